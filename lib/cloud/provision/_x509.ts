/**
 * The one place `npm:@peculiar/x509` is loaded. It needs the Reflect
 * metadata polyfill (its dependency injection, tsyringe, checks for it at
 * import) and a WebCrypto provider; both are set before first use. Loaded
 * only when provisioning is on, so other agents never pay for it.
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };
