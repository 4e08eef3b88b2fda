# The dispatcher image: a static binary, its geo database, nothing else.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=docker" -o /out/dispatcher ./cmd/dispatcher

FROM debian:bookworm-slim
COPY --from=build /out/dispatcher /usr/local/bin/dispatcher
COPY data /usr/share/dispatcher/data
COPY mirrors.json /usr/share/dispatcher/mirrors.json
WORKDIR /usr/share/dispatcher
USER nobody
EXPOSE 8080
ENTRYPOINT ["dispatcher"]
