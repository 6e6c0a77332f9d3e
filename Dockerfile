# The image `make image` builds without an engine (e2e/tools/image), for
# those who build with one: the static binary in /usr/bin, /etc/passwd and
# /etc/group naming the user 65532, a sticky world-writable /tmp, user
# 65532:65532, the binary as entrypoint. e2e/image checks that this file
# keeps that layout; `make image` is the reproducible build.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /rootfs/usr/bin/harvester-network-webhook . && \
    mkdir -p /rootfs/etc /rootfs/tmp && chmod 1777 /rootfs/tmp && \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >/rootfs/etc/passwd && \
    printf 'root:x:0:\nnonroot:x:65532:\n' >/rootfs/etc/group

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 65532:65532
ENTRYPOINT ["/usr/bin/harvester-network-webhook"]
