/* A real Doorstep server for the plain-C tests: runs the built `doorstep`
 * binary (DOORSTEP_BIN) — `server init`, `server enroll`, `server assign`
 * and `server run --listen 127.0.0.1:0`, reading the bound port from its
 * "listening on HOST:PORT" line. POSIX only. */
#ifndef DOORSTEP_TESTS_PLATFORM_C_SERVER_UTIL_H_
#define DOORSTEP_TESTS_PLATFORM_C_SERVER_UTIL_H_

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct TestServer {
  const char* bin;
  char dir[512];
  char key[128]; /* public key, hex */
  char addr[64]; /* 127.0.0.1:PORT */
  pid_t pid;
  int out_fd;
} TestServer;

/* Runs argv (argv[0] = path) with stdout captured into out (NUL-terminated,
 * trailing newline removed). Returns the exit status, or -1. */
static inline int RunCapture(char* const argv[], char* out, size_t n) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  size_t used = 0;
  for (;;) {
    ssize_t r = read(fds[0], out + used, n - 1 - used);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    used += (size_t)r;
    if (used == n - 1) break;
  }
  close(fds[0]);
  out[used] = '\0';
  while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == '\r'))
    out[--used] = '\0';
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Creates the server dir under `base` and starts `server run` on a free
 * port. Returns 1 on success. */
static inline int ServerStart(TestServer* s, const char* base) {
  memset(s, 0, sizeof *s);
  s->pid = -1;
  s->out_fd = -1;
  s->bin = getenv("DOORSTEP_BIN");
  if (s->bin == NULL || s->bin[0] == '\0') {
    fprintf(stderr, "DOORSTEP_BIN is not set\n");
    return 0;
  }
  snprintf(s->dir, sizeof s->dir, "%s/server", base);
  char* init[] = {(char*)s->bin, "server", "init", "--dir", s->dir, NULL};
  if (RunCapture(init, s->key, sizeof s->key) != 0 || strlen(s->key) != 64) {
    fprintf(stderr, "server init failed: '%s'\n", s->key);
    return 0;
  }
  int fds[2];
  if (pipe(fds) != 0) return 0;
  s->pid = fork();
  if (s->pid < 0) return 0;
  if (s->pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(s->bin, s->bin, "server", "run", "--dir", s->dir, "--listen",
          "127.0.0.1:0", (char*)NULL);
    _exit(127);
  }
  close(fds[1]);
  s->out_fd = fds[0];
  /* Read "listening on 127.0.0.1:PORT\n" (up to 30 s). */
  char line[256];
  size_t used = 0;
  while (used < sizeof line - 1) {
    struct pollfd p = {s->out_fd, POLLIN, 0};
    int ready = poll(&p, 1, 30000);
    if (ready <= 0) break;
    ssize_t r = read(s->out_fd, line + used, 1);
    if (r <= 0) break;
    if (line[used] == '\n') break;
    ++used;
  }
  line[used] = '\0';
  const char* prefix = "listening on ";
  if (strncmp(line, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "server run did not report its address: '%s'\n", line);
    return 0;
  }
  const char* addr = line + strlen(prefix);
  if (strlen(addr) >= sizeof s->addr) return 0;
  memcpy(s->addr, addr, strlen(addr) + 1);
  return 1;
}

/* `server enroll`: a one-time code for `practitioner` (role social_worker). */
static inline int ServerEnroll(TestServer* s, const char* practitioner,
                               char* code, size_t n) {
  char* argv[] = {(char*)s->bin,
                  "server",
                  "enroll",
                  "--dir",
                  s->dir,
                  "--practitioner",
                  (char*)practitioner,
                  "--role",
                  "social_worker",
                  NULL};
  return RunCapture(argv, code, n) == 0 && code[0] != '\0';
}

static inline int ServerAssign(TestServer* s, const char* practitioner,
                               const char* subject) {
  char out[256];
  char* argv[] = {(char*)s->bin,
                  "server",
                  "assign",
                  "--dir",
                  s->dir,
                  "--practitioner",
                  (char*)practitioner,
                  "--subject",
                  (char*)subject,
                  NULL};
  return RunCapture(argv, out, sizeof out) == 0;
}

/* `server revoke`: the device is refused (and wiped) at its next sync. */
static inline int ServerRevoke(TestServer* s, const char* device_id) {
  char out[256];
  char* argv[] = {(char*)s->bin, "server",   "revoke",         "--dir",
                  s->dir,        "--device", (char*)device_id, NULL};
  return RunCapture(argv, out, sizeof out) == 0;
}

/* SIGTERM, then SIGKILL if it has not stopped within 10 s. */
static inline void ServerStop(TestServer* s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {
      if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
        s->pid = -1;
        break;
      }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (s->pid > 0) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &status, 0);
      s->pid = -1;
    }
  }
  if (s->out_fd >= 0) close(s->out_fd);
  s->out_fd = -1;
}

#endif /* DOORSTEP_TESTS_PLATFORM_C_SERVER_UTIL_H_ */
