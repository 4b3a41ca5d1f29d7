// S3's error vocabulary: one exception type carrying the AWS error code, HTTP status and the extra
// XML elements S3 adds (BucketName, Key, …), plus constructors for the errors several modules raise.
// The protocol layer (api.ts) turns an S3Error into S3's XML error document; any other exception
// is a bug and becomes a 500 without file-system details.

export class S3Error extends Error {
  override readonly name = 'S3Error';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const noSuchBucket = (bucket: string): S3Error => new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket });
export const noSuchKey = (key: string): S3Error => new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });
export const noSuchUpload = (uploadId: string): S3Error =>
  new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', 404, { UploadId: uploadId });
export const preconditionFailed = (condition: string): S3Error =>
  new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: condition });
export const entityTooLarge = (max: number): S3Error =>
  new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400, { MaxSizeAllowed: String(max) });
export const slowDown = (): S3Error => new S3Error('SlowDown', 'Please reduce your request rate.', 503);
