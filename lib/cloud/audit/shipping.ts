/**
 * The audit trail's destinations, loaded only when one is on (`later()`):
 * CloudTrail Lake (`audit.cloudtrail`, spool stream `audit.cloudtrail`,
 * {@linkcode CloudTrailSender}) and a CloudWatch Logs group (`audit.logs`,
 * spool stream `audit.logs`, the logs stream's own `LogSender`, so the
 * group gets the same limits, creation, retries and crash confirmation as
 * every log). Credentials come from the "aws" service's chain.
 */

import { type AwsCredentialProvider, AwsJsonClient, type AwsService } from "../../aws/mod.ts";
import { auditLogsEndpoint, cloudtrailEndpoint } from "../../config/mod.ts";
import { HttpClient } from "../../http/mod.ts";
import type { ServiceContext } from "../../service.ts";
import { ServiceConfigError, serviceThing } from "../../service.ts";
import { LogSender } from "../logs/mod.ts";
import type { Database } from "../../db/mod.ts";
import { Spool } from "../spool.ts";
import { CloudTrailSender } from "./cloudtrail.ts";
import type { AuditDestination } from "./trail.ts";
import { auditDestinations } from "./destinations.ts";

/** What `startShipping` gives the service. */
export interface Shipping {
  destinations: AuditDestination[];
  senders: (CloudTrailSender | LogSender)[];
  close(): void;
}

/** Build the senders of every destination that is on; the caller runs `sender.run(signal)`. */
export function startShipping(ctx: ServiceContext, db: Database): Shipping {
  const config = ctx.config;
  const spool = Spool.of(db, { clock: ctx.clock, log: ctx.log.child("spool") });
  const a = config.audit;
  let credentials: AwsCredentialProvider;
  try {
    credentials = ctx.get<AwsService>("aws").provider;
  } catch {
    throw new ServiceConfigError(
      'Shipping audit events needs AWS credentials ("aws.credentials", "aws.useEnv" or "aws.iot")',
    );
  }
  const http = new HttpClient({
    timeoutMs: a.requestTimeout,
    headersTimeoutMs: a.requestTimeout,
    retries: 0,
    clock: ctx.clock,
  });
  const destinations = auditDestinations(config, spool, ctx.deviceId, serviceThing(ctx));
  const streamOf = (name: string) => destinations.find((d) => d.stream.name === name)!.stream;
  const out: Shipping = { destinations, senders: [], close: () => http.close() };
  const client = (service: string, url: URL, region: string) =>
    new AwsJsonClient({
      service,
      region,
      targetPrefix: "Logs_20140328",
      endpoint: url.href.replace(/\/$/, ""),
      credentials,
      retries: 0,
      clock: ctx.clock,
      http,
    });
  if (a.cloudtrail.enabled) {
    const url = cloudtrailEndpoint(a, config.aws.region);
    const region = a.cloudtrail.region ?? a.cloudtrail.channelArn?.split(":")[3] ??
      config.aws.region;
    if (!url || !region || !a.cloudtrail.channelArn) {
      throw new ServiceConfigError("audit.cloudtrail needs a channelArn and a region");
    }
    const stream = streamOf("audit.cloudtrail");
    out.senders.push(
      new CloudTrailSender({
        stream,
        client: client("cloudtrail-data", url, region),
        channelArn: a.cloudtrail.channelArn,
        ...(a.cloudtrail.externalId ? { externalId: a.cloudtrail.externalId } : {}),
        clock: ctx.clock,
        log: ctx.log,
        maxEvents: a.cloudtrail.maxEvents,
        flushInterval: a.flushInterval,
        backoff: a.backoff,
      }),
    );
  }
  if (a.logs.enabled) {
    const url = auditLogsEndpoint(a, config.aws.region);
    const region = a.logs.region ?? config.aws.region;
    if (!url || !region) {
      throw new ServiceConfigError(
        'audit.logs needs a region ("audit.logs.region" or "aws.region")',
      );
    }
    const stream = streamOf("audit.logs");
    out.senders.push(
      new LogSender({
        stream,
        client: client("logs", url, region),
        clock: ctx.clock,
        log: ctx.log,
        flushInterval: a.flushInterval,
        backoff: a.backoff,
        confirmDelay: a.confirmDelay,
        ...(a.logs.retentionDays ? { retentionDays: a.logs.retentionDays } : {}),
      }),
    );
  }
  return out;
}
