/* Whole-archive helpers for the archive transports: unpack an image archive (oci-archive,
 * docker-archive) into a private temp directory, and pack a directory into an archive file.
 *
 * Extraction accepts only directories, regular files and (when allowed: docker save's legacy
 * layer de-duplication) symlinks; every name is cleaned and may not escape, and files are created
 * with ld_open_in_root so that a symlink planted earlier in the archive cannot redirect a write.
 * Packing writes a pax tar through an atomic file: the archive appears complete or not at all.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/util.h"
#include "transport/tarfile.h"

static int mkdirs_in_root(int rootfd, const char *rel, ld_error **err) {
  char *p = ld_xstrdup(rel);
  for (char *s = p; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdirat(rootfd, p, 0755) < 0 && errno != EEXIST) {
      ld_err_sys(err, errno, "mkdir %s", p);
      free(p);
      return -1;
    }
    *s = '/';
  }
  free(p);
  return 0;
}

int ld_tar_extract(const char *tarfile, const char *dest, bool allow_symlinks, ld_error **err) {
  struct archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  int rc = -1, rootfd = -1;
  char *buf = ld_xmalloc(1 << 20);
  if (archive_read_open_filename(a, tarfile, 1 << 20) != ARCHIVE_OK) {
    ld_err(err, LD_EFORMAT, "%s: not a readable tar archive: %s", tarfile, archive_error_string(a));
    goto out;
  }
  rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    ld_err_sys(err, errno, "%s", dest);
    goto out;
  }
  struct archive_entry *ae;
  for (;;) {
    int r = archive_read_next_header(a, &ae);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      ld_err(err, LD_EFORMAT, "%s: %s", tarfile, archive_error_string(a));
      goto out;
    }
    char *name = NULL;
    const char *raw = archive_entry_pathname(ae);
    if (!raw || ld_path_clean(raw, false, &name, NULL) < 0) {
      ld_err(err, LD_EFORMAT, "%s: entry \"%.200s\" escapes the archive root", tarfile,
             raw ? raw : "");
      goto out;
    }
    if (!*name) {
      free(name);
      continue;
    }
    if (mkdirs_in_root(rootfd, name, err) < 0) {
      free(name);
      goto out;
    }
    mode_t type = archive_entry_filetype(ae);
    if (type == AE_IFDIR) {
      if (mkdirat(rootfd, name, 0755) < 0 && errno != EEXIST) {
        ld_err_sys(err, errno, "%s: mkdir %s", tarfile, name);
        free(name);
        goto out;
      }
    } else if (type == AE_IFREG && !archive_entry_hardlink(ae)) {
      int fd = ld_open_in_root(rootfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644, err);
      if (fd < 0) {
        ld_error_wrap(err, "%s", tarfile);
        free(name);
        goto out;
      }
      for (;;) {
        la_ssize_t n = archive_read_data(a, buf, 1 << 20);
        if (n < 0) {
          ld_err(err, LD_EFORMAT, "%s: entry %s: %s", tarfile, name, archive_error_string(a));
          close(fd);
          free(name);
          goto out;
        }
        if (n == 0) break;
        if (ld_write_all(fd, buf, (size_t) n) < 0) {
          ld_err_sys(err, errno, "%s: write %s", tarfile, name);
          close(fd);
          free(name);
          goto out;
        }
      }
      close(fd);
    } else if (type == AE_IFLNK && allow_symlinks) {
      if (symlinkat(archive_entry_symlink(ae), rootfd, name) < 0) {
        ld_err_sys(err, errno, "%s: symlink %s", tarfile, name);
        free(name);
        goto out;
      }
    } else {
      ld_err(err, LD_EFORMAT, "%s: entry %s: unexpected %s in an image archive", tarfile, name,
             type == AE_IFLNK ? "symlink" : archive_entry_hardlink(ae) ? "hard link" : "file type");
      free(name);
      goto out;
    }
    free(name);
  }
  rc = 0;
out:
  if (rootfd >= 0) close(rootfd);
  free(buf);
  archive_read_free(a);
  return rc;
}

static int pack_dir(struct archive *a, const char *base, const char *rel, char *buf,
                    ld_error **err) {
  char *path = rel[0] ? ld_path_join(base, rel) : ld_xstrdup(base);
  DIR *d = opendir(path);
  if (!d) {
    ld_err_sys(err, errno, "%s", path);
    free(path);
    return -1;
  }
  /* Sorted, so that the same layout always packs to the same bytes. */
  struct dirent **list;
  int n = scandir(path, &list, NULL, alphasort);
  closedir(d);
  int rc = 0;
  for (int i = 0; i < n; i++) {
    const char *nm = list[i]->d_name;
    if (rc || !strcmp(nm, ".") || !strcmp(nm, "..")) {
      free(list[i]);
      continue;
    }
    char *child_rel = rel[0] ? ld_xasprintf("%s/%s", rel, nm) : ld_xstrdup(nm);
    char *child = ld_path_join(base, child_rel);
    struct stat st;
    if (lstat(child, &st) < 0) {
      rc = ld_err_sys(err, errno, "%s", child);
    } else {
      struct archive_entry *ae = archive_entry_new();
      archive_entry_set_pathname(ae, child_rel);
      archive_entry_set_mode(ae, S_ISDIR(st.st_mode) ? (AE_IFDIR | 0755) : (AE_IFREG | 0644));
      archive_entry_set_size(ae, S_ISDIR(st.st_mode) ? 0 : st.st_size);
      archive_entry_set_mtime(ae, 0, 0);
      if (archive_write_header(a, ae) != ARCHIVE_OK) {
        rc = ld_err(err, EIO, "tar header %s: %s", child_rel, archive_error_string(a));
      } else if (S_ISREG(st.st_mode)) {
        int fd = open(child, O_RDONLY | O_CLOEXEC);
        if (fd < 0) rc = ld_err_sys(err, errno, "%s", child);
        while (fd >= 0 && !rc) {
          ssize_t got = read(fd, buf, 1 << 20);
          if (got < 0) rc = ld_err_sys(err, errno, "read %s", child);
          if (got <= 0) break;
          if (archive_write_data(a, buf, (size_t) got) != got)
            rc = ld_err(err, EIO, "tar data %s: %s", child_rel, archive_error_string(a));
        }
        if (fd >= 0) close(fd);
      } else if (S_ISDIR(st.st_mode)) {
        rc = pack_dir(a, base, child_rel, buf, err);
      }
      archive_entry_free(ae);
    }
    free(child);
    free(child_rel);
    free(list[i]);
  }
  free(list);
  free(path);
  return rc;
}

int ld_tar_pack_dir(const char *dir, const char *tarfile, ld_error **err) {
  ld_atomic_file f;
  if (ld_atomic_open(&f, tarfile, 0644, err) < 0) return -1;
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  char *buf = ld_xmalloc(1 << 20);
  int rc = -1;
  if (archive_write_open_fd(a, f.fd) != ARCHIVE_OK) {
    ld_err(err, EIO, "%s: %s", tarfile, archive_error_string(a));
  } else if (pack_dir(a, dir, "", buf, err) == 0) {
    if (archive_write_close(a) != ARCHIVE_OK)
      ld_err(err, EIO, "%s: %s", tarfile, archive_error_string(a));
    else
      rc = 0;
  }
  archive_write_free(a);
  free(buf);
  if (rc == 0) return ld_atomic_commit(&f, err);
  ld_atomic_abort(&f);
  return ld_error_wrap(err, "writing %s", tarfile);
}

char *ld_make_temp_dir(const char *near, ld_error **err) {
  const char *base = near ? near : getenv("TMPDIR");
  if (!base || !*base) base = "/var/tmp";
  char *tmpl = ld_xasprintf("%s/.lading-tmp-XXXXXX", base);
  if (!mkdtemp(tmpl)) {
    ld_err_sys(err, errno, "cannot create a temp directory in %s", base);
    free(tmpl);
    return NULL;
  }
  return tmpl;
}
