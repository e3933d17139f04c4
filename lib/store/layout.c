/* OCI image layout directories (see include/lading/layout.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layout.h"
#include "lading/util.h"

static const char oci_layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char empty_index_json[] = "{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_INDEX
                                       "\",\"manifests\":[]}";

int ld_layout_open(const char *dir, bool create, ld_layout *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  char *layout_file = ld_path_join(dir, "oci-layout");
  char *index_file = ld_path_join(dir, "index.json");
  int r = -1;
  if (create) {
    char *blobs = ld_path_join(dir, "blobs/sha256");
    int m = ld_mkdir_p(blobs, 0755, err);
    free(blobs);
    if (m < 0) goto out;
    if (!ld_path_exists(layout_file) &&
        ld_atomic_write(layout_file, oci_layout_json, strlen(oci_layout_json), 0644, err) < 0)
      goto out;
    if (!ld_path_exists(index_file) &&
        ld_atomic_write(index_file, empty_index_json, strlen(empty_index_json), 0644, err) < 0)
      goto out;
  } else {
    char *buf = NULL;
    if (ld_read_file(layout_file, 4096, &buf, NULL, err) < 0) {
      ld_error_clear(err);
      ld_err(err, LD_EFORMAT, "%s is not an OCI image layout (no readable oci-layout file)", dir);
      goto out;
    }
    json_t *j = NULL;
    int pr = ld_json_parse(buf, strlen(buf), layout_file, &j, err);
    free(buf);
    if (pr < 0) goto out;
    const char *v = ld_json_str(j, "imageLayoutVersion");
    if (!v) {
      json_decref(j);
      ld_err(err, LD_EFORMAT, "%s: no imageLayoutVersion", layout_file);
      goto out;
    }
    json_decref(j);
    if (!ld_path_exists(index_file)) {
      ld_err(err, LD_EFORMAT, "%s is not an OCI image layout (no index.json)", dir);
      goto out;
    }
  }
  out->dir = ld_xstrdup(dir);
  out->tmp_dir = ld_path_join(dir, "blobs");
  r = 0;
out:
  free(layout_file);
  free(index_file);
  return r;
}

void ld_layout_clear(ld_layout *l) {
  free(l->dir);
  free(l->tmp_dir);
  memset(l, 0, sizeof *l);
}

char *ld_layout_blob_path(const ld_layout *l, const char *digest) {
  const char *colon = strchr(digest, ':');
  if (!colon) return ld_xasprintf("%s/blobs/invalid", l->dir);
  return ld_xasprintf("%s/blobs/%.*s/%s", l->dir, (int) (colon - digest), digest, colon + 1);
}

bool ld_layout_has_blob(const ld_layout *l, const char *digest) {
  if (ld_digest_validate(digest, NULL) < 0) return false;
  char *p = ld_layout_blob_path(l, digest);
  struct stat st;
  bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
  free(p);
  return ok;
}

int ld_layout_put_blob(const ld_layout *l, ld_reader *r, const char *expected_digest,
                       int64_t expected_size, char out_digest[LD_DIGEST_MAX], ld_error **err) {
  if (expected_digest && ld_digest_validate(expected_digest, err) < 0) return -1;
  char *tmpl = ld_xasprintf("%s/.ingest-XXXXXX", l->tmp_dir);
  int fd = mkostemp(tmpl, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(tmpl);
    return ld_err_sys(err, e, "%s: cannot create ingest file", l->dir);
  }
  fchmod(fd, 0644);
  char what[LD_DIGEST_MAX + 8];
  snprintf(what, sizeof what, "blob %s", expected_digest ? expected_digest : "(new)");
  ld_reader *v = ld_verifier_new(r, false, expected_digest, expected_size, what);
  uint64_t copied = 0;
  int rc = ld_reader_copy_to_fd(v, fd, &copied, err);
  if (rc == 0 && fsync(fd) < 0) rc = ld_err_sys(err, errno, "fsync %s", tmpl);
  close(fd);
  if (rc < 0) {
    unlink(tmpl);
    free(tmpl);
    ld_reader_close(v);
    return -1;
  }
  char digest[LD_DIGEST_MAX];
  snprintf(digest, sizeof digest, "%s", ld_verifier_digest(v));
  ld_reader_close(v);
  char *final = ld_layout_blob_path(l, digest);
  char *dir = ld_xstrndup(final, (size_t) (strrchr(final, '/') - final));
  ld_mkdir_p(dir, 0755, NULL);
  if (rename(tmpl, final) < 0) {
    int e = errno;
    unlink(tmpl);
    ld_err_sys(err, e, "rename blob into %s", final);
    free(dir);
    free(final);
    free(tmpl);
    return -1;
  }
  ld_fsync_dir(dir);
  free(dir);
  free(final);
  free(tmpl);
  if (out_digest) memcpy(out_digest, digest, strlen(digest) + 1);
  return 0;
}

int ld_layout_open_blob(const ld_layout *l, const char *digest, ld_reader **out, ld_error **err) {
  if (ld_digest_validate(digest, err) < 0) return -1;
  char *p = ld_layout_blob_path(l, digest);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(p);
    if (e == ENOENT) return ld_err(err, LD_ENOTFOUND, "blob %s not found in %s", digest, l->dir);
    return ld_err_sys(err, e, "blob %s", digest);
  }
  free(p);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  *out = ld_reader_from_fd(fd, true);
  return 0;
}

int ld_layout_read_blob(const ld_layout *l, const char *digest, size_t max, char **out,
                        size_t *len, ld_error **err) {
  ld_reader *r;
  if (ld_layout_open_blob(l, digest, &r, err) < 0) return -1;
  char what[LD_DIGEST_MAX + 8];
  snprintf(what, sizeof what, "blob %s", digest);
  ld_reader *v = ld_verifier_new(r, true, digest, -1, what);
  int rc = ld_reader_slurp(v, max, out, len, what, err);
  ld_reader_close(v);
  return rc;
}

int ld_layout_read_index(const ld_layout *l, json_t **out, ld_error **err) {
  char *path = ld_path_join(l->dir, "index.json");
  char *buf;
  size_t len;
  int rc = ld_read_file(path, LD_MANIFEST_MAX, &buf, &len, err);
  if (rc == 0) {
    rc = ld_json_parse(buf, len, path, out, err);
    free(buf);
    if (rc == 0 && !json_is_array(json_object_get(*out, "manifests"))) {
      json_decref(*out);
      rc = ld_err(err, LD_EFORMAT, "%s: no \"manifests\" array", path);
    }
  }
  free(path);
  return rc;
}

int ld_layout_write_index(const ld_layout *l, json_t *index, ld_error **err) {
  char *path = ld_path_join(l->dir, "index.json");
  char *s = json_dumps(index, JSON_PRESERVE_ORDER | JSON_COMPACT);
  int rc = ld_atomic_write(path, s, strlen(s), 0644, err);
  free(s);
  free(path);
  return rc;
}

int ld_layout_set_ref(const ld_layout *l, const char *name, const ld_descriptor *desc,
                      ld_error **err) {
  json_t *index;
  if (ld_layout_read_index(l, &index, err) < 0) return -1;
  json_t *arr = json_object_get(index, "manifests");
  bool found = false;
  for (size_t i = json_array_size(arr); i-- > 0;) {
    json_t *e = json_array_get(arr, i);
    const char *n = ld_json_str(json_object_get(e, "annotations"), LD_ANNOT_REF_NAME);
    if (n && !strcmp(n, name)) {
      json_array_remove(arr, i);
      found = true;
    }
  }
  if (!desc && !found) {
    json_decref(index);
    return ld_err(err, LD_ENOTFOUND, "no image named %s", name);
  }
  if (desc) {
    json_t *j = ld_descriptor_to_json(desc);
    json_t *ann = json_object_get(j, "annotations");
    if (!ann) {
      ann = json_object();
      json_object_set_new(j, "annotations", ann);
    } else {
      ann = json_deep_copy(ann);
      json_object_set_new(j, "annotations", ann);
    }
    json_object_set_new(ann, LD_ANNOT_REF_NAME, json_string(name));
    json_array_append_new(arr, j);
  }
  int rc = ld_layout_write_index(l, index, err);
  json_decref(index);
  return rc;
}

int ld_layout_find_ref(const ld_layout *l, const char *name, ld_descriptor *out, ld_error **err) {
  json_t *index;
  if (ld_layout_read_index(l, &index, err) < 0) return -1;
  json_t *arr = json_object_get(index, "manifests");
  json_t *hit = NULL;
  if (!name) {
    if (json_array_size(arr) == 1) hit = json_array_get(arr, 0);
    else {
      size_t n = json_array_size(arr);
      json_decref(index);
      return ld_err(err, LD_ENOTFOUND, "%s: %zu images in index.json; name one with :TAG", l->dir,
                    n);
    }
  } else {
    for (size_t i = 0; i < json_array_size(arr); i++) {
      json_t *e = json_array_get(arr, i);
      const char *n = ld_json_str(json_object_get(e, "annotations"), LD_ANNOT_REF_NAME);
      if (n && !strcmp(n, name)) hit = e;
    }
  }
  if (!hit) {
    json_decref(index);
    return ld_err(err, LD_ENOTFOUND, "%s: no image named \"%s\"", l->dir, name);
  }
  int rc = ld_descriptor_from_json(hit, out, err);
  if (rc < 0) ld_error_wrap(err, "%s/index.json", l->dir);
  json_decref(index);
  return rc;
}
