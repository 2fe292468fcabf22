# Stand-ins for the registry images of deploy/compose.fleet.yaml (redis:7, postgres:16,
# haproxy:2.8) where no registry is reachable: Debian's redis-server, PostgreSQL 15 and
# HAProxy 2.6 in one image, built FROM the debootstrapped base by scripts/test-deploy.ts.
# The compose file gives each service its command, which works with both kinds of image.
ARG BASE_IMAGE=localhost/hexarch-debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      redis-server postgresql-15 haproxy \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data /usr/local/etc/haproxy /var/lib/postgresql/data /run/postgresql \
 && chown postgres:postgres /var/lib/postgresql/data /run/postgresql
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
