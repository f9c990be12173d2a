/* native-sync-treesig: one signature per folder, for the drift verifier's walk.
 *
 *   native-sync-treesig [-f NS] ROOT < folders
 *
 * stdin: folder paths relative to ROOT, each ended by a NUL ("" is ROOT), read
 * in full before anything is written (the caller writes them all, then reads).
 * stdout: one line per folder, in order: 16 hex digits, the signature of every
 * entry's name and stat (type and permission bits, inode; for what is not a
 * folder also size, mtime and ctime to the nanosecond: a folder's own times
 * change with what is in it, and that has its own signature), or "-" when the
 * folder or one of its entries cannot be read (the verifier then compares that
 * folder), or with -f, when an entry's mtime or ctime is NS (nanoseconds since
 * the epoch) or later: a change made in the same tick of a coarse clock would
 * not change the stat.  The signature does not depend on the order the folder
 * lists in.  Links are not followed.  Exit 0, or 2 on a usage error, a ROOT that
 * cannot be opened or a failed write.
 *
 * Why C (engine/fsmonitor/treesig.py has the numbers): stat'ing every file of
 * the host's tree is the verifier's whole cost, and at 400k files Python's
 * per-entry objects cost as much again as the system calls themselves.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t mix(uint64_t h, uint64_t v) {
  /* splitmix64's finaliser over h ^ v: every input bit moves every output bit */
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t name_hash(const char *name) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
  return h;
}

static long long fresh = -1; /* -f: entries changed from then on (ns) make the folder unsigned */

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

/* The folder's signature into *out; 0, or -1 when it or an entry cannot be read (or is fresh). */
static int sign(int root, const char *rel, uint64_t *out) {
  int fd = openat(root, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    close(fd);
    return -1;
  }
  uint64_t sum = 0, count = 0;
  int failed = 0;
  struct dirent *entry;
  struct stat st;
  while ((entry = readdir(dir)) != NULL) {
    const char *n = entry->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      failed = 1;
      break;
    }
    uint64_t h = name_hash(n);
    h = mix(h, (uint64_t)st.st_mode);
    h = mix(h, (uint64_t)st.st_ino);
    if (!S_ISDIR(st.st_mode)) {
      if (fresh >= 0 && (ns(st.st_mtim) >= fresh || ns(st.st_ctim) >= fresh)) {
        failed = 1;
        break;
      }
      h = mix(h, (uint64_t)st.st_size);
      h = mix(h, (uint64_t)st.st_mtim.tv_sec);
      h = mix(h, (uint64_t)st.st_mtim.tv_nsec);
      h = mix(h, (uint64_t)st.st_ctim.tv_sec);
      h = mix(h, (uint64_t)st.st_ctim.tv_nsec);
    }
    sum += h; /* a sum: the order of the listing does not count */
    count++;
  }
  closedir(dir);
  if (failed) return -1;
  *out = mix(sum, count);
  return 0;
}

int main(int argc, char **argv) {
  char *end = NULL;
  if (argc == 4 && strcmp(argv[1], "-f") == 0) {
    fresh = strtoll(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || fresh < 0) fresh = -2;
    argv += 2;
    argc -= 2;
  }
  if (argc != 2 || fresh == -2) {
    fprintf(stderr, "usage: native-sync-treesig [-f NS] ROOT < NUL-ended folder paths\n");
    return 2;
  }
  int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    perror(argv[1]);
    return 2;
  }
  size_t size = 0, used = 0;
  char *paths = NULL;
  for (;;) {
    if (used == size) {
      size = size ? 2 * size : 1 << 16;
      if ((paths = realloc(paths, size)) == NULL) return 2;
    }
    size_t got = fread(paths + used, 1, size - used, stdin);
    if (got == 0) break;
    used += got;
  }
  if (ferror(stdin)) return 2;
  for (size_t at = 0; at < used;) {
    char *end = memchr(paths + at, '\0', used - at);
    if (end == NULL) break; /* a last path without its NUL: not asked */
    uint64_t signature;
    if (sign(root, paths + at, &signature) == 0)
      printf("%016llx\n", (unsigned long long)signature);
    else
      fputs("-\n", stdout);
    at = (size_t)(end - paths) + 1;
  }
  free(paths);
  if (fflush(stdout) != 0 || ferror(stdout)) return 2;
  return 0;
}
