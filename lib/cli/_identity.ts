/**
 * The device's provisioned identity as the agent keeps it in the state dir
 * (lib/cloud/provision), for CLI commands that act as the device: AWS keys
 * from the IoT credential provider (`tern sync`) and `{thing}` in cloud names
 * (`tern` commands that record audit events). Undefined when provisioning is
 * off or the device has no identity yet.
 */

import { join } from "../path.ts";
import type { LoadedConfig } from "../config/mod.ts";
import { IdentityStore, type LoadedIdentity } from "../cloud/provision/identity.ts";

export function storedIdentity(loaded: LoadedConfig): LoadedIdentity | undefined {
  const p = loaded.config.provision;
  return p.enabled ? new IdentityStore(join(loaded.stateDir, p.dir)).current() : undefined;
}
