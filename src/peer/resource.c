/* resource.c — files we serve, mapped once and named by their SHA-256. */
#include <errno.h>
#include <string.h>
#include "peer.h"
#include "wire.h"

int pt_resource_open(const char *path, pt_resource **out, char **err)
{
	GError *gerr = NULL;
	GMappedFile *map = g_mapped_file_new(path, FALSE, &gerr);
	pt_resource *r;
	gsize len;

	if (!map) {
		*err = g_strdup_printf("%s: %s", path, gerr->message);
		g_error_free(gerr);
		return -EIO;
	}
	len = g_mapped_file_get_length(map);
	if ((uint64_t)len / PT_WIRE_PAYLOAD >= UINT32_MAX) {
		*err = g_strdup_printf("%s: too large for the peer wire", path);
		g_mapped_file_unref(map);
		return -EFBIG;
	}
	r = g_new0(pt_resource, 1);
	/* An empty file maps to NULL contents; GBytes wants a real pointer then. */
	r->bytes = len ? g_mapped_file_get_bytes(map) : g_bytes_new(NULL, 0);
	g_mapped_file_unref(map);
	r->path = g_strdup(path);
	pt_hash_sha256(g_bytes_get_data(r->bytes, NULL), len, &r->hash);
	pt_hash_format(&r->hash, r->hex);
	r->chunks = pt_wire_chunks(len);
	*out = r;
	return 0;
}

pt_resource *pt_resource_from_bytes(GBytes *bytes, const pt_hash *h, const char *path)
{
	pt_resource *r = g_new0(pt_resource, 1);

	r->bytes = g_bytes_ref(bytes);
	r->hash = *h;
	pt_hash_format(h, r->hex);
	r->path = g_strdup(path);
	r->chunks = pt_wire_chunks(g_bytes_get_size(bytes));
	return r;
}

void pt_resource_free(pt_resource *r)
{
	if (!r)
		return;
	g_bytes_unref(r->bytes);
	g_free(r->path);
	g_free(r);
}
