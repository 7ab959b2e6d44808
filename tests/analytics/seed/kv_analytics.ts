// KV Analytics using Cloudflare GraphQL API
interface KVMetrics {
  namespace: string;
  reads: number;
  writes: number;
  deletes: number;
  storageBytes: number;
  estimatedCost: number;
}

export async function fetchKVMetrics(
  accountId: string,
  apiToken: string,
  namespaceId: string
): Promise<KVMetrics> {
  const query = `
    query GetKVMetrics($accountId: string!, $namespaceId: string!) {
      viewer {
        accounts(filter: { accountTag: $accountId }) {
          kvOperationsAdaptiveGroups(
            limit: 1000
            filter: {
              namespaceId: $namespaceId
              date_geq: "${new Date(Date.now() - 30 * 24 * 60 * 60 * 1000).toISOString()}"
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
            filter: { namespaceId: $namespaceId }
          ) {
            max {
              storedBytes
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
    body: JSON.stringify({ query, variables: { accountId, namespaceId } }),
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

  const storageBytes = data.data.viewer.accounts[0].kvStorageAdaptiveGroups[0]?.max?.storedBytes || 0;

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
    estimatedCost: readCost + writeCost + storageCost,
  };
}
