// Rows of a registry database written by modelpool before performance history had tenants and cost
// measures (schema version 1: perf keys without a tenant, 7 decayed slots, 3 mean pairs, no queue
// sketch). Taken from a real file that the code of that time wrote (model m, version 1 with four chat
// samples at 1_700_000_000_000, one failed; version 2 registered after, with its prior). Tests load
// them to prove that old rows and old files still open.

/** When the samples were recorded (epoch ms). */
export const LEGACY_AT = 1_700_000_000_000;

/** Every row of the file, by table. */
export const LEGACY_ROWS = {
  "models": [
    {
      "id": "m",
      "revision": 2,
      "description": null,
      "default_version": "1",
      "tasks": "[\"chat\"]",
      "tags": "[]",
      "created_at": 1700000000000,
      "updated_at": 1700000000000
    }
  ],
  "names": [
    {
      "name": "m",
      "model_id": "m",
      "is_alias": 0,
      "position": 0
    },
    {
      "name": "m:latest",
      "model_id": "m",
      "is_alias": 1,
      "position": 1
    }
  ],
  "versions": [
    {
      "model_id": "m",
      "version": "1",
      "ordinal": 1,
      "source": "{\"kind\":\"openai\",\"model\":\"x\"}",
      "metadata": null,
      "memory_estimate_bytes": null,
      "context_length": null,
      "hardware": null,
      "state": "registered",
      "deprecated": 0,
      "deprecation_reason": null,
      "transition_count": 0,
      "created_at": 1700000000000,
      "updated_at": 1700000000000
    },
    {
      "model_id": "m",
      "version": "2",
      "ordinal": 2,
      "source": "{\"kind\":\"openai\",\"model\":\"x\"}",
      "metadata": null,
      "memory_estimate_bytes": null,
      "context_length": null,
      "hardware": null,
      "state": "registered",
      "deprecated": 0,
      "deprecation_reason": null,
      "transition_count": 0,
      "created_at": 1700000000000,
      "updated_at": 1700000000000
    }
  ],
  "perf_stats": [
    {
      "model_id": "m",
      "version": "1",
      "task": "chat",
      "seq": 1,
      "stats": "{\"decayed\":{\"at\":1700000000000,\"w\":[4,4,4,4,4,4,4],\"s\":[3,10,100,200,2,4000,0.008]},\"all\":{\"count\":4,\"failures\":1,\"firstAt\":1700000000000,\"lastAt\":1700000000000,\"ttft\":{\"sum\":10,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[0,1],[35,1],[55,1],[70,1]],\"min\":1,\"max\":4}},\"total\":{\"sum\":100,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[116,1],[150,1],[171,1],[185,1]],\"min\":10,\"max\":40}},\"tps\":{\"sum\":200,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[196,4]],\"min\":50,\"max\":50}},\"means\":[4,2,4,4000,4,0.008]}}"
    },
    {
      "model_id": "m",
      "version": "2",
      "task": "chat",
      "seq": 2,
      "stats": "{\"decayed\":{\"at\":1700000000000,\"w\":[1.2,1.2,1.2,1.2,1.2,1.2,1.2],\"s\":[0.8999999999999999,3,30,60,0.6,1200,0.0024]},\"all\":{\"count\":0,\"failures\":0,\"firstAt\":null,\"lastAt\":null,\"ttft\":{\"sum\":0,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[],\"min\":null,\"max\":null}},\"total\":{\"sum\":0,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[],\"min\":null,\"max\":null}},\"tps\":{\"sum\":0,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[],\"min\":null,\"max\":null}},\"means\":[0,0,0,0,0,0]},\"prior\":{\"fromVersion\":\"1\",\"at\":1700000000000,\"weight\":1.2,\"aggregate\":{\"count\":1.2,\"failures\":0.3,\"firstAt\":1700000000000,\"lastAt\":1700000000000,\"ttft\":{\"sum\":3,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[0,0.3],[35,0.3],[55,0.3],[70,0.3]],\"min\":1,\"max\":4}},\"total\":{\"sum\":30,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[116,0.3],[150,0.3],[171,0.3],[185,0.3]],\"min\":10,\"max\":40}},\"tps\":{\"sum\":60,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[196,1.2]],\"min\":50,\"max\":50}},\"means\":[1.2,0.6,1.2,1200,1.2,0.0024]}}}"
    }
  ],
  "perf_buckets": [
    {
      "model_id": "m",
      "version": "1",
      "task": "chat",
      "start": 1699999200000,
      "seq": 1,
      "aggregate": "{\"count\":4,\"failures\":1,\"firstAt\":1700000000000,\"lastAt\":1700000000000,\"ttft\":{\"sum\":10,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[0,1],[35,1],[55,1],[70,1]],\"min\":1,\"max\":4}},\"total\":{\"sum\":100,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[116,1],[150,1],[171,1],[185,1]],\"min\":10,\"max\":40}},\"tps\":{\"sum\":200,\"sketch\":{\"a\":0.01,\"z\":0,\"b\":[[196,4]],\"min\":50,\"max\":50}},\"means\":[4,2,4,4000,4,0.008]}"
    }
  ],
  "counters": [
    {
      "name": "perf",
      "value": 2
    }
  ],
  "changes": [
    {
      "seq": 1,
      "model_id": "m",
      "at": 1796150077228
    },
    {
      "seq": 2,
      "model_id": "m",
      "at": 1796150077231
    }
  ]
} as const;

/** The stored stats JSON of version 1 and of version 2 (a prior), and version 1's one bucket. */
export const LEGACY_STATS_V1: string = LEGACY_ROWS.perf_stats[0].stats;
export const LEGACY_STATS_V2: string = LEGACY_ROWS.perf_stats[1].stats;
export const LEGACY_BUCKET_V1: string = LEGACY_ROWS.perf_buckets[0].aggregate;
