// CNCF Distribution in a container (DistributionContainer) against real docker clients.
// This is the baseline nitro-registry is compared with: if a scenario fails here too,
// the client or the engine is at fault, not our server.
import t from "tap";
import { DistributionContainer } from "../../testcontainers/index.js";
import { requireEngine, requireImage } from "./lib/engine.js";
import { clientScenarios } from "./lib/client-scenarios.js";

const image = process.env.DISTRIBUTION_IMAGE ?? "local/distribution:2.8";

if ((await requireEngine(t)) && (await requireImage(t, image, "scripts/ci/build-base-images.sh"))) {
  await t.test("open Distribution registry", async (t) => {
    const registry = await new DistributionContainer(image).start();
    t.teardown(() => registry.stop());
    t.equal(registry.getCredentials(), undefined);
    await clientScenarios(t, { host: registry.getRegistryHost(), url: registry.getRegistryUrl() }, "conformance/open");
  });

  await t.test("Distribution registry with htpasswd auth", async (t) => {
    const registry = await new DistributionContainer(image).withHtpasswdUser("pusher", "s3cret-pw").start();
    t.teardown(() => registry.stop());
    const credentials = registry.getCredentials();
    t.same(credentials, { username: "pusher", password: "s3cret-pw" });
    await clientScenarios(t, { host: registry.getRegistryHost(), url: registry.getRegistryUrl(), credentials }, "conformance/auth");
  });
}
