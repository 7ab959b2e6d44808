// KV Analytics using Cloudflare GraphQL API: the seed's script with its query corrected to
// Cloudflare's schema (docs/analytics.md): `max { byteCount keyCount }` (no `storedBytes`),
// `date_geq` a Date (YYYY-MM-DD, not a timestamp), and the storage dataset's latest group.
interface KVMetrics {
  namespace: string;
  reads: number;
  writes: number;
  deletes: number;
  storageBytes: number;
  storageKeys: number;
  estimatedCost: number;
}

export async function fetchKVMetrics(
  accountId: string,
  apiToken: string,
  namespaceId: string
): Promise<KVMetrics> {
  const query = `
    query GetKVMetrics($accountId: string!, $namespaceId: string!, $since: Date!) {
      viewer {
        accounts(filter: { accountTag: $accountId }) {
          kvOperationsAdaptiveGroups(
            limit: 1000
            filter: {
              namespaceId: $namespaceId
              date_geq: $since
            }
          ) {
            sum {
              requests
            }
            dimensions {
              actionType
            }
          }
          kvStorageAdaptiveGroups(
            limit: 1
            filter: { namespaceId: $namespaceId, date_geq: $since }
            orderBy: [datetimeHour_DESC]
          ) {
            max {
              byteCount
              keyCount
            }
            dimensions {
              datetimeHour
            }
          }
        }
      }
    }
  `;

  const response = await fetch(`${process.env.EDGEKV_URL}/client/v4/graphql`, {
    method: 'POST',
    headers: {
      'Authorization': `Bearer ${apiToken}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      query,
      variables: {
        accountId,
        namespaceId,
        since: new Date(Date.now() - 30 * 24 * 60 * 60 * 1000).toISOString().slice(0, 10),
      },
    }),
  });

  const data = await response.json();

  // Aggregate metrics
  let reads = 0, writes = 0, deletes = 0;
  for (const group of data.data.viewer.accounts[0].kvOperationsAdaptiveGroups || []) {
    const actionType = group.dimensions.actionType;
    const count = group.sum.requests;

    if (actionType === 'read') reads += count;
    else if (actionType === 'write') writes += count;
    else if (actionType === 'delete') deletes += count;
  }

  const storageBytes = data.data.viewer.accounts[0].kvStorageAdaptiveGroups[0]?.max?.byteCount || 0;
  const storageKeys = data.data.viewer.accounts[0].kvStorageAdaptiveGroups[0]?.max?.keyCount || 0;

  // Calculate costs (as of 2025)
  const readCost = Math.max(0, (reads - 10_000_000) / 1_000_000 * 0.50);
  const writeCost = Math.max(0, (writes - 1_000_000) / 1_000_000 * 5.00);
  const storageGb = storageBytes / (1024 ** 3);
  const storageCost = Math.max(0, (storageGb - 1) * 0.50);

  return {
    namespace: namespaceId,
    reads,
    writes,
    deletes,
    storageBytes,
    storageKeys,
    estimatedCost: readCost + writeCost + storageCost,
  };
}
