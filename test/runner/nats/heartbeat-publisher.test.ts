import { expect, test } from "vitest";
import { carriedHeartbeat } from "../../../runner/nats/heartbeat-publisher.ts";

const beat = { host: "ws-1", version: "1.0.0", slots: 2, running: [], queued: [] };

test("an unsigned heartbeat is carried with backend nats and the runner's labels", () => {
  const carried = JSON.parse(carriedHeartbeat(JSON.stringify(beat), { nx: "2512" }));
  expect(carried).toEqual({ ...beat, backend: "nats", labels: { nx: "2512" } });
});

test.each([
  {
    what: "a signed heartbeat (an added field would break its signature)",
    text: JSON.stringify({ ...beat, signature: { key_id: "k", value: "v" } }),
  },
  { what: "text that is not JSON", text: "{half" },
  { what: "JSON that is not an object", text: "[1,2]" },
])("$what is carried byte for byte", ({ text }) => {
  expect(carriedHeartbeat(text, { nx: "2512" })).toBe(text);
});
