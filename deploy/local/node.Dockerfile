# A Node.js image made without a registry (scripts/test-deploy.ts): a debootstrapped Debian
# (BASE_IMAGE) plus the Node.js binary of the `node` npm package and npm, both copied from
# the build context that script prepares (node, npm/).
ARG BASE_IMAGE=localhost/hexarch-debian:bookworm
FROM ${BASE_IMAGE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
