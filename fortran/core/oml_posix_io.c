/*
 * oml_posix_io.c -- the few POSIX calls the Fortran core needs to write a
 * file whose every byte is accounted for (OML_ScfV).
 *
 * Fortran's buffered WRITE does not report a full disk reliably: gfortran
 * may keep the bytes in its own buffer and lose the error when it flushes
 * them at CLOSE.  These helpers write with write(2) itself, retry what was
 * interrupted by a signal (EINTR) or written only in part, push the data
 * to the disk with fsync(2), check close(2), and hand back errno's text so
 * that the caller can return it as a status message.  They never print and
 * never stop the process.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Copy strerror(err) into message[0..messageLen-1], NUL-terminated. */
static void omlErrorText(int err, char *message, int messageLen)
{
    const char *text = strerror(err);
    size_t n;

    if (message == NULL || messageLen <= 0)
        return;
    n = strlen(text);
    if (n > (size_t)(messageLen - 1))
        n = (size_t)(messageLen - 1);
    memcpy(message, text, n);
    message[n] = '\0';
}

/* Write all n bytes of buffer to fd.  Returns 0, or errno on failure
 * (ENOSPC for a full disk, EFBIG beyond the file size limit, EIO, ...). */
int oml_write_all(int fd, const char *buffer, long n, char *message,
                  int messageLen)
{
    long done = 0;

    while (done < n) {
        ssize_t wrote = write(fd, buffer + done, (size_t)(n - done));
        if (wrote < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            omlErrorText(err, message, messageLen);
            return err;
        }
        if (wrote == 0) {   /* no progress: treat as a full disk */
            omlErrorText(ENOSPC, message, messageLen);
            return ENOSPC;
        }
        done += (long)wrote;
    }
    return 0;
}

/* fsync then close fd; both are checked (a delayed write error of a
 * network or full file system shows up only here).  Returns 0 or errno. */
int oml_sync_close(int fd, char *message, int messageLen)
{
    int err = 0;

    while (fsync(fd) != 0) {
        if (errno == EINTR)
            continue;
        /* Some file systems (pipes, special files) cannot fsync: only a
         * real I/O failure is an error. */
        if (errno != EINVAL && errno != EROFS && errno != ENOTSUP)
            err = errno;
        break;
    }
    if (close(fd) != 0 && err == 0 && errno != EINTR)
        err = errno;
    if (err != 0)
        omlErrorText(err, message, messageLen);
    return err;
}

/* close fd without looking at the result (after an earlier failure). */
void oml_close_quietly(int fd)
{
    (void)close(fd);
}
