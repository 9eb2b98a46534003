#!/bin/sh
# make-assets.sh — regenerates the demo site's images and video (committed:
# `make demo` does not need ffmpeg). Deterministic: ffmpeg's test sources,
# bit-exact flags, one thread, so the same ffmpeg writes the same bytes.
#   examples/site/make-assets.sh [OUTDIR]     (default: examples/site/assets)
set -eu
out="${1:-$(dirname "$0")/assets}"
command -v ffmpeg >/dev/null || { echo "make-assets: ffmpeg missing (Debian package ffmpeg)" >&2; exit 1; }
mkdir -p "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y -threads 1 "$@"; }
# Six pictures, each another test pattern or moment, about 20-120 KB each.
i=1
for src in "testsrc2=size=640x360:rate=1" "smptehdbars=size=640x360:rate=1" "mandelbrot=size=640x360:rate=1" \
           "life=size=640x360:rate=1:seed=16:mold=10" "cellauto=size=640x360:rate=1:rule=30:seed=16" \
           "rgbtestsrc=size=640x360:rate=1"; do
	ff -f lavfi -i "$src" -frames:v 1 -fflags +bitexact -flags:v +bitexact "$out/pic$i.png"
	i=$((i + 1))
done
# A short clip: 4 s of 320x180 VP8 in WebM, about 150 KB (every Chromium plays VP8).
ff -f lavfi -i "testsrc=size=320x180:rate=25:duration=4" -c:v libvpx -b:v 300k -deadline good -cpu-used 4 \
   -g 25 -pix_fmt yuv420p -fflags +bitexact -flags:v +bitexact "$out/clip.webm"
ls -l "$out"
