/* The passphrase of a key file, from the environment or the terminal.
 *
 * Order: $LADING_PASSWORD, then $COSIGN_PASSWORD (what cosign users already export; set but empty
 * means the empty passphrase), then a prompt on /dev/tty with echo off. Never stdin: stdin may be
 * a pipe carrying data, and a passphrase must not be read from it by accident. Without any of
 * them the caller gets an error that says which variables to set.
 */
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "lading/sign.h"
#include "lading/util.h"

static int read_tty_line(int fd, const char *prompt, char **out, ld_error **err) {
  struct termios old, quiet;
  bool restore = tcgetattr(fd, &old) == 0;
  if (restore) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    tcsetattr(fd, TCSANOW, &quiet); /* not FLUSH: keep type-ahead */
  }
  (void) !write(fd, prompt, strlen(prompt));
  ld_buf b = {0};
  char c;
  ssize_t n;
  while ((n = read(fd, &c, 1)) == 1 && c != '\n' && c != '\r') ld_buf_append(&b, &c, 1);
  if (restore) tcsetattr(fd, TCSANOW, &old);
  (void) !write(fd, "\n", 1);
  if (n < 0) {
    ld_buf_free(&b);
    return ld_err_sys(err, errno, "reading the passphrase from the terminal");
  }
  ld_buf_append(&b, "", 0);
  *out = b.data ? ld_buf_steal(&b) : ld_xstrdup("");
  return 0;
}

int ld_passphrase_get(const char *prompt, bool confirm, char **out, ld_error **err) {
  const char *env = getenv("LADING_PASSWORD");
  if (!env) env = getenv("COSIGN_PASSWORD");
  if (env) {
    *out = ld_xstrdup(env);
    return 0;
  }
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return ld_err(err, EINVAL,
                  "no passphrase: set LADING_PASSWORD (or COSIGN_PASSWORD), or run on a terminal");
  char *first = NULL, *second = NULL;
  int rc = read_tty_line(fd, prompt, &first, err);
  if (rc == 0 && confirm) {
    rc = read_tty_line(fd, "Enter passphrase again: ", &second, err);
    if (rc == 0 && strcmp(first, second)) rc = ld_err(err, EINVAL, "passphrases do not match");
  }
  close(fd);
  free(second);
  if (rc < 0) {
    free(first);
    return -1;
  }
  *out = first;
  return 0;
}
