/* manifest.c — `peertrackctl manifest DIR`: the manifest a site publishes for
 * the browser client's service worker (clients/js/src/manifest.js reads it):
 * every regular file under DIR, by URL, with its SHA-256, size and type.
 *
 *   {"version":1,"resources":{"/img/a.png":{"sha256":"...","size":123,"type":"image/png"},...}}
 *
 * URLs are --prefix (default "/") followed by the path under DIR, each path
 * segment percent-encoded outside RFC 3986's unreserved set. Files and
 * folders whose name starts with '.' are left out, symbolic links are not
 * followed (a link could leave DIR), and so is the output file when it lies
 * in DIR. Order is by name, so the same tree gives the same bytes.
 *
 * Hashing reads each file once through OpenSSL's EVP digest in 64 KiB
 * blocks: memory stays flat whatever the file sizes. */
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ctl.h"

/* Content types by extension: what a static site holds. Anything else is
 * application/octet-stream (the service worker serves it with that type). */
static const struct { const char *ext, *type; } types[] = {
	{ "html", "text/html; charset=utf-8" }, { "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" }, { "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" }, { "json", "application/json" },
	{ "txt", "text/plain; charset=utf-8" }, { "xml", "application/xml" },
	{ "svg", "image/svg+xml" }, { "png", "image/png" }, { "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" }, { "gif", "image/gif" }, { "webp", "image/webp" },
	{ "avif", "image/avif" }, { "ico", "image/vnd.microsoft.icon" },
	{ "webm", "video/webm" }, { "mp4", "video/mp4" }, { "m4v", "video/mp4" },
	{ "ogv", "video/ogg" }, { "mp3", "audio/mpeg" }, { "ogg", "audio/ogg" },
	{ "opus", "audio/ogg" }, { "wav", "audio/wav" }, { "m4a", "audio/mp4" },
	{ "woff", "font/woff" }, { "woff2", "font/woff2" }, { "ttf", "font/ttf" },
	{ "otf", "font/otf" }, { "wasm", "application/wasm" }, { "pdf", "application/pdf" },
	{ "m3u8", "application/vnd.apple.mpegurl" }, { "mpd", "application/dash+xml" },
	{ "ts", "video/mp2t" }, { "m4s", "video/iso.segment" },
};

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot)
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/* SHA-256 of an open file, as 64 lowercase hex digits, and its length. */
static int hash_fd(int fd, char hex[65], unsigned long long *size)
{
	static unsigned char buf[65536];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t n;
	int rc = -EIO;

	*size = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto out;
		*size += (unsigned long long)n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32)
		goto out;
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* prefix + the path under the root, percent-encoded segment by segment. */
static int url_of(const char *prefix, const char *rel, char *out, size_t outlen)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(out, outlen, "%s", prefix);

	if (n >= outlen)
		return -ENAMETOOLONG;
	if (n && out[n - 1] == '/' && rel[0] == '/')
		rel++;
	else if ((!n || out[n - 1] != '/') && rel[0] != '/' && n + 1 < outlen)
		out[n++] = '/';
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		             strchr("-._~/", *p);

		if (n + (plain ? 1 : 3) >= outlen)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hexd[*p >> 4];
			out[n++] = hexd[*p & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

static int by_name(const FTSENT **a, const FTSENT **b)
{
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* The manifest of root, into *out (new reference). 0, or -errno with err set. */
static int build(const char *root, const char *prefix, const struct stat *skip, json_t **out, char *err,
                 size_t errlen)
{
	char *paths[] = { (char *)root, NULL };
	json_t *doc = json_pack("{si s{}}", "version", 1, "resources"), *res;
	size_t rootlen = strlen(root);
	FTS *fts;
	FTSENT *e;
	int rc = 0;

	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	if (!doc)
		return -ENOMEM;
	res = json_object_get(doc, "resources");
	if (!(fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, by_name))) {
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		json_decref(doc);
		return -errno;
	}
	errno = 0;
	while (!rc && (e = fts_read(fts))) {
		char url[PATH_MAX * 3 + 256], hex[65];
		unsigned long long size;
		int fd;

		switch (e->fts_info) {
		case FTS_D:
			if (e->fts_level > 0 && e->fts_name[0] == '.')
				fts_set(fts, e, FTS_SKIP);
			continue;
		case FTS_DNR: case FTS_ERR: case FTS_NS:
			snprintf(err, errlen, "%s: %s", e->fts_path, strerror(e->fts_errno));
			rc = -e->fts_errno;
			continue;
		case FTS_F:
			break;
		default:        /* directories on the way out, links, sockets ... */
			errno = 0;
			continue;
		}
		if (e->fts_name[0] == '.' ||
		    (skip && e->fts_statp->st_dev == skip->st_dev && e->fts_statp->st_ino == skip->st_ino))
			continue;
		if (url_of(prefix, e->fts_path + rootlen, url, sizeof(url))) {
			snprintf(err, errlen, "%s: URL too long", e->fts_path);
			rc = -ENAMETOOLONG;
			continue;
		}
		if ((fd = open(e->fts_accpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", e->fts_path, strerror(errno));
			continue;
		}
		rc = hash_fd(fd, hex, &size);
		close(fd);
		if (rc) {
			snprintf(err, errlen, "%s: %s", e->fts_path, strerror(-rc));
			continue;
		}
		if (json_object_set_new(res, url, json_pack("{ss sI ss}", "sha256", hex, "size", (json_int_t)size,
		                                            "type", type_of(e->fts_name)))) {
			snprintf(err, errlen, "%s: out of memory", e->fts_path);
			rc = -ENOMEM;
		}
	}
	if (!rc && errno) {             /* fts_read's NULL: the walk itself failed */
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		rc = -errno;
	}
	fts_close(fts);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

static void manifest_usage(FILE *f)
{
	fprintf(f, "usage: peertrackctl manifest DIR [--prefix URL] [-o FILE]\n\n"
	           "Writes the manifest of the static files under DIR (JSON, for the browser\n"
	           "client's service worker): each file's URL, SHA-256, size and content type.\n\n"
	           "  --prefix URL  what goes before each file's path under DIR: a path (\"/static/\")\n"
	           "                or an absolute URL (\"https://cdn.example.org/\"); default \"/\"\n"
	           "  -o FILE       write to FILE (atomically) instead of standard output; a FILE\n"
	           "                inside DIR is left out of the manifest\n\n"
	           "Names starting with '.' are skipped, symbolic links are not followed.\n"
	           "Exit status: 0 ok, 1 a file could not be read or written, 2 usage.\n");
}

int pt_ctl_manifest(int argc, char **argv)
{
	const char *dir = NULL, *prefix = "/", *outpath = NULL;
	char err[PATH_MAX + 128], tmp[PATH_MAX + 16];
	struct stat dst, ost;
	bool have_out = false;
	json_t *doc = NULL;
	FILE *f = stdout;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			manifest_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
			prefix = argv[++i];
		} else if (!strncmp(argv[i], "--prefix=", 9)) {
			prefix = argv[i] + 9;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			outpath = argv[++i];
		} else if (argv[i][0] != '-' && !dir) {
			dir = argv[i];
		} else {
			fprintf(stderr, "peertrackctl manifest: unexpected argument '%s'\n\n", argv[i]);
			manifest_usage(stderr);
			return 2;
		}
	}
	if (!dir) {
		manifest_usage(stderr);
		return 2;
	}
	if (strlen(prefix) > 1024) {
		fprintf(stderr, "peertrackctl manifest: --prefix longer than 1024 bytes\n");
		return 2;
	}
	if (stat(dir, &dst)) {
		fprintf(stderr, "peertrackctl manifest: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(dst.st_mode)) {
		fprintf(stderr, "peertrackctl manifest: %s: not a directory\n", dir);
		return 2;
	}
	if (outpath && !stat(outpath, &ost))
		have_out = true;
	if ((rc = build(dir, prefix, have_out ? &ost : NULL, &doc, err, sizeof(err)))) {
		fprintf(stderr, "peertrackctl manifest: %s\n", err);
		return 1;
	}
	if (outpath) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", outpath) >= sizeof(tmp) || !(f = fopen(tmp, "w"))) {
			fprintf(stderr, "peertrackctl manifest: %s: %s\n", outpath, strerror(errno));
			json_decref(doc);
			return 1;
		}
	}
	rc = json_dumpf(doc, f, JSON_INDENT(1) | JSON_SORT_KEYS) || fputc('\n', f) == EOF;
	json_decref(doc);
	if (outpath) {
		rc |= fclose(f) != 0;
		if (rc || rename(tmp, outpath)) {
			fprintf(stderr, "peertrackctl manifest: %s: %s\n", outpath, strerror(errno));
			unlink(tmp);
			return 1;
		}
	} else if (fflush(stdout)) {
		return 1;
	}
	return rc ? 1 : 0;
}
