# Caddy with the webhook inbox, as a small non-root image.
#
#   docker build -t caddy-webhook-inbox .
#   docker run -d --name inbox -p 80:80 -p 443:443 \
#     -v inbox-data:/data -v "$PWD/my.Caddyfile:/etc/caddy/Caddyfile:ro" \
#     -e UNICRAFT_WEBHOOK_SECRET -e APP_WEBHOOK_SECRET caddy-webhook-inbox
#
# The default config is the repo's quick-start Caddyfile, which listens on
# loopback only: mount your own (see examples/caddyfiles) at
# /etc/caddy/Caddyfile. Events are stored under /data/webhook-inbox: use
# `storage_dir /data/webhook-inbox` (the quick start's ./data/webhook-inbox
# resolves there too, since the working directory is /).

FROM golang:1.26 AS build
WORKDIR /src
# dependencies first, so they stay cached while the code changes
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /caddy ./caddy
# /data and /config, owned by the runtime user: the distroless image has no
# shell to create them
RUN mkdir -p /out/data/webhook-inbox /out/config

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /caddy /usr/bin/caddy
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY --from=build --chown=nonroot:nonroot /out/config /config
COPY Caddyfile /etc/caddy/Caddyfile

# Caddy keeps certificates under $XDG_DATA_HOME/caddy and its autosaved
# config under $XDG_CONFIG_HOME/caddy.
ENV XDG_DATA_HOME=/data \
    XDG_CONFIG_HOME=/config
WORKDIR /
USER nonroot:nonroot
# /data holds the inbox store and the certificates: losing it loses
# undelivered events, so keep it on a named volume.
VOLUME /data
VOLUME /config

# Docker lets unprivileged processes bind ports below 1024 inside the
# container (net.ipv4.ip_unprivileged_port_start=0), so 80 and 443 work as
# nonroot. 2019 is Caddy's admin API, which the default config binds to
# localhost inside the container: it is listed for `docker exec inbox caddy
# webhook stats`, and publishing it reaches nothing unless you change
# `admin` - and if you do, never publish it beyond a trusted network.
EXPOSE 80 443 443/udp 2019

ENTRYPOINT ["/usr/bin/caddy"]
CMD ["run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
