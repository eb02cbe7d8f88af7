/* extract_pdf.c - PDF through poppler-utils: `pdftotext -layout -enc UTF-8`
 * run as a child (its own memory and CPU limits, killed at the wall-clock
 * deadline, output capped); pages come from the form feed pdftotext writes
 * after each page, paragraphs from blank lines. `pdfinfo` gives the title. */
#include "kb/extract_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv with in_data on its stdin (in_data NULL: /dev/null); collects
 * stdout (at most max_out bytes, else HH_ERANGE) and the start of stderr.
 * *status gets the wait status. */
static int run_tool(char *const argv[], const uint8_t *in_data, size_t in_len,
                    const hh_extract_limits_t *lim, uint64_t max_out,
                    hh_xstr_t *out, char *errbuf, size_t errcap, int *status, hh_err_t *err)
{
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    int rc = 0;
    size_t errlen = 0;
    pid_t pid = -1;
    sigset_t pipe_set, old_set;
    errbuf[0] = '\0';
    /* a tool that exits before reading all input must not kill us with SIGPIPE */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    if ((in_data && pipe2(pin, O_CLOEXEC) != 0) || pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    pid = fork();
    if (pid < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = in_data ? pin[0] : open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0)
            _exit(126);
        if (close_range(3, ~0u, 0) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        struct rlimit rl;
        if (lim->mem_bytes > 0) {
            rl.rlim_cur = rl.rlim_max = lim->mem_bytes;
            setrlimit(RLIMIT_AS, &rl);
        }
        if (lim->cpu_seconds > 0) {
            rl.rlim_cur = lim->cpu_seconds;
            rl.rlim_max = (rlim_t)lim->cpu_seconds + 1;
            setrlimit(RLIMIT_CPU, &rl);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pout[1]);
    pout[1] = -1;
    close(perr[1]);
    perr[1] = -1;
    if (in_data) {
        close(pin[0]);
        pin[0] = -1;
        fcntl(pin[1], F_SETFL, O_NONBLOCK);
    }
    size_t in_off = 0;
    int64_t deadline = mono_ms() + (lim->wall_ms ? lim->wall_ms : 60000);
    bool out_open = true, err_open = true, timed_out = false, too_big = false;
    char chunk[65536];
    while (out_open || err_open) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pf[3];
        int np = 0, iout = -1, ierr = -1, iin = -1;
        if (out_open) {
            pf[np] = (struct pollfd){ .fd = pout[0], .events = POLLIN };
            iout = np++;
        }
        if (err_open) {
            pf[np] = (struct pollfd){ .fd = perr[0], .events = POLLIN };
            ierr = np++;
        }
        if (pin[1] >= 0) {
            pf[np] = (struct pollfd){ .fd = pin[1], .events = POLLOUT };
            iin = np++;
        }
        int pr = poll(pf, (nfds_t)np, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            rc = hh_err_set(err, HH_EIO, -1, "poll: %s", strerror(errno));
            break;
        }
        if (pr <= 0)
            continue;
        if (iin >= 0 && pf[iin].revents) {
            ssize_t w = write(pin[1], in_data + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
        if (iout >= 0 && pf[iout].revents) {
            ssize_t r = read(pout[0], chunk, sizeof chunk);
            if (r > 0) {
                if (out->len + (uint64_t)r > max_out) {
                    too_big = true;
                    break;
                }
                if (hh_xstr_append(out, chunk, (size_t)r)) {
                    rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                    break;
                }
            } else if (r == 0 || errno != EINTR) {
                out_open = false;
            }
        }
        if (ierr >= 0 && pf[ierr].revents) {
            ssize_t r = read(perr[0], chunk, sizeof chunk);
            if (r > 0) {
                size_t k = (size_t)r < errcap - 1 - errlen ? (size_t)r : errcap - 1 - errlen;
                memcpy(errbuf + errlen, chunk, k);
                errlen += k;
                errbuf[errlen] = '\0';
            } else if (r == 0 || errno != EINTR) {
                err_open = false;
            }
        }
    }
    if (timed_out || too_big || rc != 0)
        kill(pid, SIGKILL);
    /* the output is closed: the tool is exiting; the sandbox's own deadline
     * bounds this wait if it does not */
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (rc == 0 && timed_out)
        rc = hh_err_set(err, HH_ERANGE, -1, "%s timed out after %.1f s", argv[0],
                        (lim->wall_ms ? lim->wall_ms : 60000) / 1000.0);
    else if (rc == 0 && too_big)
        rc = hh_err_set(err, HH_ERANGE, -1, "%s output larger than the limit of %llu bytes", argv[0],
                        (unsigned long long)max_out);
cleanup:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, status, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (pin[i] >= 0)
            close(pin[i]);
        if (pout[i] >= 0)
            close(pout[i]);
        if (perr[i] >= 0)
            close(perr[i]);
    }
    /* drop a SIGPIPE raised while it was blocked, then restore the mask */
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}

/* First line of a tool's stderr, for messages. */
static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
}

static int pdf_title(hh_xb_t *b, char *file, const uint8_t *data, size_t len)
{
    char *argv[] = { "pdfinfo", "-enc", "UTF-8", file, NULL };
    hh_xstr_t out = { 0 };
    char ebuf[256];
    int status = 0, rc = 0;
    hh_err_t e;
    if (run_tool(argv, file[0] == '-' ? data : NULL, len, b->lim, 1 << 20, &out, ebuf, sizeof ebuf,
                 &status, &e) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && out.data) {
        for (char *l = out.data; l && *l; ) {
            char *nl = strchr(l, '\n');
            if (strncmp(l, "Title:", 6) == 0) {
                char *v = l + 6;
                size_t n = nl ? (size_t)(nl - v) : strlen(v);
                rc = hh_xb_title(b, v, n);
                break;
            }
            l = nl ? nl + 1 : NULL;
        }
    }
    hh_xstr_free(&out);
    return rc;
}

int hh_x_pdf(hh_xb_t *b, const uint8_t *data, size_t len, const char *path, hh_err_t *err)
{
    /* a path that starts with '-' would read as an option */
    char *file = NULL;
    if (path != NULL) {
        size_t n = strlen(path);
        file = malloc(n + 3);
        if (file == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        if (path[0] == '-') {
            memcpy(file, "./", 2);
            memcpy(file + 2, path, n + 1);
        } else {
            memcpy(file, path, n + 1);
        }
    } else if ((file = strdup("-")) == NULL) {
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    char *argv[] = { "pdftotext", "-layout", "-enc", "UTF-8", file, "-", NULL };
    hh_xstr_t out = { 0 };
    char ebuf[1024];
    int status = 0;
    int rc = run_tool(argv, path ? NULL : data, len, b->lim, b->lim->output_bytes, &out,
                      ebuf, sizeof ebuf, &status, err);
    if (rc != 0)
        goto cleanup;
    first_line(ebuf);
    if (WIFSIGNALED(status)) {
        rc = hh_err_set(err, WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL ? HH_ERANGE : HH_EFORMAT,
                        -1, "pdftotext killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        goto cleanup;
    }
    int code = WEXITSTATUS(status);
    if (code == 127) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "pdftotext not found (install poppler-utils)");
        goto cleanup;
    }
    if (code == 3) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "PDF does not permit copying its text: %s", ebuf);
        goto cleanup;
    }
    if (code != 0) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "not a readable PDF (pdftotext exit %d): %s", code, ebuf);
        goto cleanup;
    }
    if ((rc = hh_x_text_paragraphs(b, out.data ? out.data : "", out.len, true, err)) != 0)
        goto cleanup;
    if (b->doc->n_blocks == 0) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "PDF has no text layer (scanned pages need OCR, which is not supported)");
        goto cleanup;
    }
    if (pdf_title(b, file, data, len) != 0)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
cleanup:
    hh_xstr_free(&out);
    free(file);
    return rc;
}
