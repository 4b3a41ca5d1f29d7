// The Glue table behind a delivery stream's record format conversion, for the local cloud, which has
// no Glue Data Catalog. The local deployer knows the template's AWS::Glue::Table resources (it
// resolves and skips them); before it creates a delivery stream whose SchemaConfiguration names one
// of them, it copies that table's name and columns into the SchemaConfiguration under LOCAL_GLUE_TABLE.
// The Firehose emulator persists the input with the stream, so the schema survives restarts, and
// converts with it as AWS converts with the table (VersionId LATEST: the table as deployed).
export const LOCAL_GLUE_TABLE = 'LocalGlueTable';

/** What the local Firehose needs of a Glue table: its name and storage columns. */
export interface LocalGlueTable {
  readonly DatabaseName: string;
  readonly Name: string;
  readonly Columns: readonly { readonly Name: string; readonly Type: string }[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An AWS::Glue::Table's resolved Properties → the table, or undefined when it has no usable columns. */
export function glueTableOf(properties: unknown): LocalGlueTable | undefined {
  if (!isRecord(properties) || !isRecord(properties.TableInput)) return undefined;
  const input = properties.TableInput;
  const descriptor = isRecord(input.StorageDescriptor) ? input.StorageDescriptor : undefined;
  if (typeof properties.DatabaseName !== 'string' || typeof input.Name !== 'string' || !Array.isArray(descriptor?.Columns)) return undefined;
  const columns = descriptor.Columns.filter(isRecord).map((c) => ({ Name: String(c.Name), Type: String(c.Type) }));
  return { DatabaseName: properties.DatabaseName, Name: input.Name, Columns: columns };
}

/**
 * The delivery stream input with the Glue table its conversion names attached (a copy; the input
 * is returned as is when it converts nothing or names a table that is not among `tables`: the
 * Firehose then says which table it could not find). Glue names are case-insensitive.
 */
export function withLocalGlueTable(input: Record<string, unknown>, tables: readonly LocalGlueTable[]): Record<string, unknown> {
  const destination = input.ExtendedS3DestinationConfiguration;
  if (!isRecord(destination) || !isRecord(destination.DataFormatConversionConfiguration)) return input;
  const conversion = destination.DataFormatConversionConfiguration;
  const schema = conversion.SchemaConfiguration;
  if (!isRecord(schema) || typeof schema.DatabaseName !== 'string' || typeof schema.TableName !== 'string') return input;
  const database = schema.DatabaseName.toLowerCase();
  const name = schema.TableName.toLowerCase();
  const table = tables.find((t) => t.DatabaseName.toLowerCase() === database && t.Name.toLowerCase() === name);
  if (!table) return input;
  return {
    ...input,
    ExtendedS3DestinationConfiguration: {
      ...destination,
      DataFormatConversionConfiguration: { ...conversion, SchemaConfiguration: { ...schema, [LOCAL_GLUE_TABLE]: table } },
    },
  };
}
