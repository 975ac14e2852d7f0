#!/usr/bin/env bash
# Builds the h0p image with buildah from scratch, without any registry:
# the binary is built here (CGO_ENABLED=0, static) and only copied in. The
# result is the image deploy/Containerfile describes.
#
#   deploy/image.sh [name]        (default localhost/h0p:latest; run as root or in buildah unshare)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-localhost/h0p:latest}
version=$(git describe --always --dirty 2>/dev/null || echo devel)
work=$(mktemp -d)
ctr=
cleanup() {
	[ -z "$ctr" ] || buildah rm "$ctr" >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=$version" -o "$work/h0p" ./cmd/h0p
mkdir "$work/empty"

ctr=$(buildah from scratch)
buildah copy "$ctr" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
buildah copy "$ctr" "$work/h0p" /h0p >/dev/null
buildah copy --chown 65532:65532 "$ctr" "$work/empty" /tmp >/dev/null
buildah copy --chown 65532:65532 "$ctr" "$work/empty" /data >/dev/null
buildah config --user 65532:65532 --entrypoint '["/h0p"]' --cmd '' --env H0P_DATA=/data --volume /data \
	--label org.opencontainers.image.title=h0p --label org.opencontainers.image.version="$version" "$ctr"
buildah commit --quiet "$ctr" "$name" >/dev/null
echo "$name"
