# The dispatcher image: a static binary, its geo database, nothing else.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=docker" -o /out/dispatcher ./cmd/dispatcher

FROM debian:bookworm-slim
# ca-certificates: https probes and mirrors, rediss://; rsync: file-aware
# pools list their mirrors with it; curl: the health check below.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates rsync curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/dispatcher /usr/local/bin/dispatcher
COPY data /usr/share/dispatcher/data
COPY mirrors.json /usr/share/dispatcher/mirrors.json
WORKDIR /usr/share/dispatcher
USER nobody
EXPOSE 8080
# Ready once a configuration is loaded (/readyz also says whether Redis is
# shared or degraded).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["dispatcher"]
