# nitro-registry reference server (OCI Distribution / Docker Registry v2).
#
#   docker run -p 127.0.0.1:5000:5000 -v nitro-data:/data \
#     -e NITRO_REGISTRY_ADMIN_PASSWORD=... ghcr.io/OWNER/nitro-registry
#
# Two images from one Dockerfile:
#   target `server` (the default, last stage): the server and its commands (serve, gc, user,
#     token) with only the server's dependencies.
#   target `full`: the same plus `conformance` (the suite, with tap) and `verify`; one extra
#     layer on top of `server`.
# scripts/stage-app.mjs decides what goes where (the dependency closure of each command set).
#
# How the application gets into the images; both ways end in the same runtime stages:
#   APP_SOURCE=from-source (default; GitHub Actions or any builder with npm access):
#     a builder stage on BUILD_IMAGE runs `npm ci` (which builds via `prepare`) and stages the
#     trees. Multi-platform builds run it once per platform (arm64 under QEMU) because
#     better-sqlite3 is a native addon for the target architecture.
#   APP_SOURCE=prebuilt (offline CI: no npm registry or base images inside the build):
#     scripts/ci/build-server-image.sh stages the trees on the host and passes them as the
#     named build context `prebuilt-app`, with --build-arg BASE_IMAGE=local/node:20-min
#     (a FROM scratch node built from the host).
# better-sqlite3 is compiled against one node ABI: the runtime node must be the same
# major version as the node that installed it (20).
#
# Settings come from NITRO_REGISTRY_* environment variables (listen address, data dir,
# config file, admin password, TLS cert/key); see `nitro-registry serve --help`.
# No `# syntax=` line on purpose: it would make BuildKit pull a frontend image.
ARG BASE_IMAGE=node:20-bookworm-slim
ARG BUILD_IMAGE=node:20-bookworm
ARG APP_SOURCE=from-source

# ---- from source (networked builders) ---------------------------------------------
FROM ${BUILD_IMAGE} AS from-source
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
 && node scripts/stage-app.mjs /src /out \
 && mkdir -p /out/data

# ---- prebuilt trees (offline CI) --------------------------------------------------
FROM scratch AS prebuilt
# WORKDIR creates the (empty) data directory without needing a shell.
WORKDIR /out/data
COPY --from=prebuilt-app / /out/

FROM ${APP_SOURCE} AS app

# ---- runtime: the server ----------------------------------------------------------
FROM ${BASE_IMAGE} AS server-runtime
LABEL org.opencontainers.image.title="nitro-registry" \
      org.opencontainers.image.description="OCI Distribution / Docker Registry v2 reference server" \
      org.opencontainers.image.licenses="Apache-2.0"
# NITRO_REGISTRY_REQUIRE_NATIVE: the resumable-hash addon (built by npm ci, staged by stage-app.mjs) must
# load; a server silently falling back to the JavaScript SHA-2 engine would be several times slower.
ENV NODE_ENV=production \
    NITRO_REGISTRY_REQUIRE_NATIVE=1 \
    NITRO_REGISTRY_LISTEN=0.0.0.0:5000 \
    NITRO_REGISTRY_DATA=/data
# The application belongs to root (read-only for the server); only /data is writable.
COPY --from=app /out/server /app
COPY --from=app --chown=1000:1000 /out/data /data
# uid 1000 is "node" in the official node images and in local/node:20-min.
USER 1000:1000
WORKDIR /app
VOLUME ["/data"]
EXPOSE 5000
# No shell in minimal images: the check is a node one-liner. It follows the listen port
# and TLS settings from the environment; /v2/ answers 200, or 401 when auth is on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
  CMD ["node", "-e", "const l=process.env.NITRO_REGISTRY_LISTEN||'0.0.0.0:5000';const tls=!!process.env.NITRO_REGISTRY_TLS_CERT;require(tls?'https':'http').get({host:'127.0.0.1',port:Number(l.slice(l.lastIndexOf(':')+1)),path:'/v2/',rejectUnauthorized:false,timeout:4000},r=>process.exit(r.statusCode===200||r.statusCode===401?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["node", "--initial-old-space-size=64", "/app/bin/nitro-registry.js"]
CMD ["serve"]

# ---- the full image: + conformance suite and verify -------------------------------
FROM server-runtime AS full
LABEL org.opencontainers.image.description="OCI Distribution / Docker Registry v2 reference server, with the registry conformance suite (nitro-registry conformance) and nitro-registry verify"
COPY --from=app /out/full /app

# ---- the default image: the server alone ------------------------------------------
FROM server-runtime AS server
