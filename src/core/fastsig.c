/* fastsig.c — the `signal` envelope on the shared fast-path scanner
 * (jscan.h). See fastsig.h for the contract: any doubt is a "no", and the
 * full parser decides. */
#include <string.h>

#include "peertrack/fastsig.h"
#include "peertrack/jscan.h"

int pt_fastsig_parse(const char *frame, size_t len, uint32_t max_signal_bytes, pt_fastsig *out)
{
	pt_jscan s;
	pt_jscan_keys ks;
	int have_type = 0, have_to = 0, have_data = 0, r;

	pt_jscan_init(&s, frame, len, 0);
	ks.n = 0;
	memset(&out->rid, 0, sizeof(out->rid));
	if (!pt_jscan_eat(&s, '{'))
		return 0;
	do {
		const char *k, *v, *vstart;
		size_t kl, vl;
		int esc;

		if (!pt_jscan_key(&s, &ks, &k, &kl))
			return 0;
		vstart = s.p;
		if (PT_JSCAN_KEY_IS(k, kl, "type")) {
			if (s.p >= s.end || *s.p != '"' || !pt_jscan_string(&s, &v, &vl, &esc) || esc ||
			    vl != 6 || memcmp(v, "signal", 6))
				return 0;
			have_type = 1;
		} else if (PT_JSCAN_KEY_IS(k, kl, "to")) {
			if (s.p >= s.end || *s.p != '"' || !pt_jscan_string(&s, &v, &vl, &esc) || esc ||
			    pt_id_decode(v, vl, &out->to))
				return 0;
			have_to = 1;
		} else if (PT_JSCAN_KEY_IS(k, kl, "data")) {
			if (s.p >= s.end || *s.p != '{' || !pt_jscan_value(&s, 1))
				return 0;
			out->data = vstart;
			out->data_len = (size_t)(s.p - vstart);
			if (out->data_len > max_signal_bytes)
				return 0; /* the full parser measures it exactly */
			have_data = 1;
		} else if (PT_JSCAN_KEY_IS(k, kl, "rid")) {
			if (s.p < s.end && *s.p == '"') {
				if (!pt_jscan_string(&s, &v, &vl, &esc) || esc || vl > PT_RID_MAX)
					return 0;
				out->rid.kind = PT_RID_STR;
				out->rid.len = (uint8_t)vl;
				memcpy(out->rid.s, v, vl);
				out->rid.s[vl] = 0;
			} else {
				if (!pt_jscan_number(&s))
					return 0;
				out->rid.kind = PT_RID_INT;
				out->rid.i = pt_jscan_int(vstart, (size_t)(s.p - vstart));
			}
		} else if (!pt_jscan_value(&s, 1)) {
			return 0;
		}
	} while ((r = pt_jscan_next(&s, '}')) == 1);
	if (r != 2)
		return 0;
	pt_jscan_ws(&s);
	return s.p == s.end && have_type && have_to && have_data;
}
