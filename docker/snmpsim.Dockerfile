# A simulated SNMP agent (Debian's snmpsim) for the compose demo.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends snmpsim && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /var/cache/snmpsim && chown nobody /var/cache/snmpsim
USER nobody
EXPOSE 1161/udp
ENTRYPOINT ["snmpsimd", "--data-dir=/data", "--cache-dir=/var/cache/snmpsim", "--agent-udpv4-endpoint=0.0.0.0:1161"]
