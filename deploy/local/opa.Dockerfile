# A stand-in for openpolicyagent/opa where no registry is reachable: an OPA binary (from the
# build context, put there by scripts/test-deploy.ts) at /opa, its entrypoint as upstream's.
ARG BASE_IMAGE=localhost/hexarch-debian:bookworm
FROM ${BASE_IMAGE}
COPY opa /opa
USER 65534
ENTRYPOINT ["/opa"]
