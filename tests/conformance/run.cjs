// Runs tests/conformance/steps.json through the AWS SDK for JavaScript v3
// (@aws-sdk/client-rekognition): its own serializer, SigV4 signer and response parsers.
// Usage: NODE_PATH=<npm prefix>/node_modules OVERSIGHT_URL=... OVERSIGHT_SHARED_DATA=...
//        AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... node run.cjs steps.json
// Prints one JSON array, {operation, status: ok|failed|skipped, error?} per step; exits 1 when a
// step failed (an error answer, an SDK-side parse error, or a job that did not succeed).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const rekognition = require("@aws-sdk/client-rekognition");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const dataDir = process.env.OVERSIGHT_SHARED_DATA;
const jobMillis = 1000 * Number(process.env.OVERSIGHT_JOB_SECONDS || 180);
const client = new rekognition.RekognitionClient({
  endpoint: process.env.OVERSIGHT_URL,
  region: "us-east-1",
  maxAttempts: 1,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
});

// A step's input for the SDK: placeholders filled, {"file": KEY} as the file's bytes.
function fill(value, saved) {
  if (typeof value === "string") {
    return value.replace(/\{(\w+)\}/g, (_, name) => {
      if (!(name in saved)) throw new Error(`nothing saved as ${name}`);
      return saved[name];
    });
  }
  if (Array.isArray(value)) return value.map((item) => fill(item, saved));
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "file") {
      return new Uint8Array(fs.readFileSync(path.join(dataDir, spec.files[value.file])));
    }
    return Object.fromEntries(keys.map((key) => [key, fill(value[key], saved)]));
  }
  return value;
}

function pick(response, dotted) {
  const value = dotted.split(".").reduce((node, part) => node?.[part], response);
  if (value === undefined) throw new Error(`the answer has no ${dotted}`);
  return String(value);
}

const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));

async function runStep(step, saved) {
  const Command = rekognition[`${step.operation}Command`];
  if (Command === undefined) throw new Error(`the SDK has no ${step.operation}Command`);
  const input = fill(step.input, saved);
  let output = await client.send(new Command(input));
  const deadline = Date.now() + jobMillis;
  while (step.wait && output[step.wait] === "IN_PROGRESS" && Date.now() < deadline) {
    await sleep(500);
    output = await client.send(new Command(input));
  }
  if (step.wait && output[step.wait] !== "SUCCEEDED") {
    throw new Error(`job ended ${output[step.wait]}: ${output.StatusMessage}`);
  }
  for (const [name, dotted] of Object.entries(step.save || {})) {
    saved[name] = pick(output, dotted);
  }
}

async function main() {
  const saved = { run: "js" };
  const results = [];
  for (const step of spec.steps) {
    if (step.extension) {
      results.push({ operation: step.operation, status: "skipped" });
      continue;
    }
    try {
      await runStep(step, saved);
      results.push({ operation: step.operation, status: "ok" });
    } catch (error) {
      results.push({ operation: step.operation, status: "failed",
                     error: `${error.name}: ${error.message}` });
    }
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exitCode = results.some((r) => r.status === "failed") ? 1 : 0;
}

main();
