"""Writes tune.jsonl and heldout.jsonl from tune.txt and heldout.txt: the
German PII set for persons, addresses and identifiers (issue 14).

Source format: one document per line, "GENRE|text"; a literal \\n in the
text is a line break; '#' lines are comments. [[KIND|text]] marks a span
(byte offsets are computed here). Identifiers are generated with valid
check digits, so no real number appears:
  [[ID_CARD|#]]  Personalausweis serial + 7-3-1 check digit
  [[TAX_ID|#]]   Steuer-IdNr (digit rule + ISO 7064 MOD 11,10)
  [[SSN|#]]      Rentenversicherungsnummer (area, birth date, letter,
                 serial, check digit)
  {{BAD_ID}} {{BAD_TAX}} {{BAD_SSN}}  the same with a wrong check digit
                 (hard negatives, not labeled)
Run: /usr/bin/python3 tests/pii/de/make_de.py (writes next to itself)."""
import json, os, random, re

rng = random.Random(20261207)
ID_CHARS = '0123456789CFGHJKLMNPRTVWXYZ'

def id_check(s):
    w = (7, 3, 1)
    total = 0
    for i, ch in enumerate(s):
        v = int(ch) if ch.isdigit() else ord(ch) - ord('A') + 10
        total += v * w[i % 3]
    return str(total % 10)

def id_card(bad=False):
    s = rng.choice('CFGHJKLMNPRTVWXYZ') + ''.join(rng.choice(ID_CHARS) for _ in range(8))
    c = id_check(s)
    if bad:
        c = str((int(c) + 1 + rng.randrange(8)) % 10)
    return s + c

def tax_check(d10):
    product = 10
    for ch in d10:
        s = (int(ch) + product) % 10
        if s == 0:
            s = 10
        product = (s * 2) % 11
    c = 11 - product
    return '0' if c == 10 else str(c)

def tax_id(bad=False):
    while True:
        ds = rng.sample('0123456789', 9)
        if ds[0] == '0':
            continue
        rep = rng.choice(ds)
        pos = rng.randrange(1, 10)
        d = ds[:pos] + [rep] + ds[pos:]
        s = ''.join(d)
        if rep * 3 in s:
            continue
        c = tax_check(s)
        if bad:
            c = str((int(c) + 1 + rng.randrange(8)) % 10)
        return s + c

def ssn(bad=False):
    area = '%02d' % rng.choice([12, 13, 15, 18, 23, 24, 28, 38, 40, 42, 53, 65])
    date = '%02d%02d%02d' % (rng.randint(1, 28), rng.randint(1, 12), rng.randint(50, 99))
    letter = rng.choice('ABCDEFGHIKLMNOPRSTUVWZ')
    serial = '%02d' % rng.randint(0, 49)
    digits = area + date + '%02d' % (ord(letter) - 64) + serial
    w = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)
    total = 0
    for d, k in zip(digits, w):
        p = int(d) * k
        total += p // 10 + p % 10
    c = total % 10
    if bad:
        c = (c + 1 + rng.randrange(8)) % 10
    return area + date + letter + serial + str(c)

GEN = {'ID_CARD': id_card, 'TAX_ID': tax_id, 'SSN': ssn}
BAD = {'BAD_ID': id_card, 'BAD_TAX': tax_id, 'BAD_SSN': ssn}
MARK = re.compile(r'\[\[([A-Z_]+)\|([^\]]*)\]\]|\{\{(BAD_ID|BAD_TAX|BAD_SSN)\}\}')

def convert(src, dst):
    out = []
    for n, line in enumerate(open(src, encoding='utf-8'), 1):
        line = line.rstrip('\n')
        if not line.strip() or line.startswith('#'):
            continue
        genre, text = line.split('|', 1)
        text = text.replace('\\n', '\n')
        buf, spans, pos = b'', [], 0
        for m in MARK.finditer(text):
            buf += text[pos:m.start()].encode()
            if m.group(3):
                buf += BAD[m.group(3)](bad=True).encode()
            else:
                kind, val = m.group(1), m.group(2)
                if val == '#':
                    val = GEN[kind]()
                s = len(buf)
                buf += val.encode()
                spans.append({'kind': kind, 'start': s, 'end': len(buf)})
            pos = m.end()
        buf += text[pos:].encode()
        assert '[[' not in buf.decode() and '{{' not in buf.decode(), (src, n)
        out.append({'id': len(out) + 1, 'lang': 'de', 'genre': genre, 'text': buf.decode(), 'spans': spans})
    with open(dst, 'w', encoding='utf-8') as f:
        for d in out:
            f.write(json.dumps(d, ensure_ascii=False) + '\n')
    return len(out)

here = os.path.dirname(os.path.abspath(__file__))
for part in ('tune', 'heldout'):
    print(part, convert(os.path.join(here, part + '.txt'), os.path.join(here, part + '.jsonl')))
