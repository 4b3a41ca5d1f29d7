// The price table the bench's cost model multiplies counted operations by: AWS list prices in
// us-east-1, on-demand (no free tier, no savings plans, no volume tiers beyond the first), with the
// page each one comes from. Dated, because prices change: re-check the pages before quoting a
// number from the report, and update `asOf` with the values.

export interface PriceTable {
  /** When these values were taken from the pages in `sources` (the bench does not fetch them). */
  readonly asOf: string;
  readonly region: string;
  readonly sources: Readonly<Record<string, string>>;
  readonly kinesis: {
    /** Provisioned mode: per shard-hour (1 MB/s or 1,000 records/s in, 2 MB/s out). */
    readonly shardHour: number;
    /** Provisioned mode: per million PUT payload units (each record is ⌈size / 25 KB⌉ units). */
    readonly putPayloadUnitsPerMillion: number;
    /** On-demand mode: per stream-hour. */
    readonly onDemandStreamHour: number;
    /** On-demand mode: per GB written (each record rounded up to 1 KB). */
    readonly onDemandGbIn: number;
    /** On-demand mode: per GB read (per consumer: each event source mapping reads the stream once). */
    readonly onDemandGbOut: number;
  };
  readonly kinesisEnhancedFanOut: {
    /** Per consumer per shard-hour (provisioned streams). */
    readonly consumerShardHour: number;
    /** Per GB pushed to a consumer. */
    readonly gbRetrieved: number;
  };
  /** Amazon Managed Service for Apache Flink: the reference line of the latency–cost chart. */
  readonly managedFlink: {
    readonly kpuHour: number;
    /** The smallest practical application a month (KPUs incl. orchestration, running storage). */
    readonly smallestAppPerMonth: number;
  };
  readonly lambda: {
    /** arm64 (Graviton), first 7.5 billion GB-s a month. */
    readonly arm64GbSecond: number;
    readonly requestsPerMillion: number;
  };
  readonly dynamodb: {
    /** On-demand, Standard table class: a write of ≤ 1 KB is one WRU. */
    readonly wruPerMillion: number;
    /** On-demand: a strongly consistent read of ≤ 4 KB is one RRU, eventually consistent half. */
    readonly rruPerMillion: number;
  };
  readonly firehose: {
    /** Direct PUT ingestion per GB, first 500 TB a month; each record rounded up to 5 KB. */
    readonly gbIngested: number;
    /** Dynamic partitioning: per GB processed. */
    readonly dynamicPartitioningGb: number;
    /** Dynamic partitioning: per 1,000 S3 objects delivered. */
    readonly dynamicPartitioningObjectsPer1000: number;
  };
  readonly s3: {
    /** S3 Standard PUT, COPY, POST, LIST per 1,000 requests. */
    readonly putPer1000: number;
  };
  readonly cloudwatchLogs: {
    /** Standard log class ingestion per GB (Lambda's START/END/REPORT lines and the EMF metrics). */
    readonly gbIngested: number;
  };
}

export const PRICES_US_EAST_1: PriceTable = {
  asOf: '2025-06-01',
  region: 'us-east-1',
  sources: {
    kinesis: 'https://aws.amazon.com/kinesis/data-streams/pricing/ (shards, PUT payload units, enhanced fan-out)',
    managedFlink: 'https://aws.amazon.com/managed-service-apache-flink/pricing/',
    lambda: 'https://aws.amazon.com/lambda/pricing/',
    dynamodb: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (rates after the 2024-11-01 on-demand price cut)',
    firehose: 'https://aws.amazon.com/firehose/pricing/',
    s3: 'https://aws.amazon.com/s3/pricing/',
    cloudwatchLogs: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  kinesis: { shardHour: 0.015, putPayloadUnitsPerMillion: 0.014, onDemandStreamHour: 0.04, onDemandGbIn: 0.08, onDemandGbOut: 0.04 },
  kinesisEnhancedFanOut: { consumerShardHour: 0.015, gbRetrieved: 0.013 },
  managedFlink: { kpuHour: 0.11, smallestAppPerMonth: 241 },
  lambda: { arm64GbSecond: 0.0000133334, requestsPerMillion: 0.2 },
  dynamodb: { wruPerMillion: 0.625, rruPerMillion: 0.125 },
  firehose: { gbIngested: 0.029, dynamicPartitioningGb: 0.02, dynamicPartitioningObjectsPer1000: 0.005 },
  s3: { putPer1000: 0.005 },
  cloudwatchLogs: { gbIngested: 0.5 },
};
