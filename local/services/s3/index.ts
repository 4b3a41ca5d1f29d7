// The local cloud's S3 (see api.ts for the protocol, store.ts for how objects are kept).
export { LocalS3 } from './api';
export type { LocalS3Options, PutObjectOptions, S3Operation } from './api';
export { S3Error } from './errors';
export { s3ErrorResponse } from './xml';
export { AwsChunkedDecoder } from './body';
