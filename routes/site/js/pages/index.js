// The dashboard's pages, in menu order. To add one: write ./my_page.js that
// exports { path, title, role, service?, mount(view, ctx) } (mount returns an
// optional cleanup function) and list it here. `role` hides the page from
// users who lack it (the API refuses them anyway); `service` hides it while
// that service of the agent does not run.

import overview from "./overview.js";
import logs from "./logs.js";
import metrics from "./metrics.js";
import data from "./data.js";
import shadow from "./shadow.js";
import users from "./users.js";
import tokens from "./tokens.js";
import audit from "./audit.js";
import config from "./config.js";

export const PAGES = [overview, logs, metrics, data, shadow, users, tokens, audit, config];
