import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from "aws-cdk-lib/aws-dynamodb";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import {
  INDEX_PROJECTED_ATTRIBUTES,
  TABLE_INDEXES,
  TABLE_KEYS,
} from "../../functions/adapters/dynamodb/schema.ts";
import { tableIndexes } from "./table-indexes.ts";

export interface TenantTableProps {
  /**
   * A customer-managed KMS key, for operators who must control or revoke access to the data
   * themselves. Without one the table uses the AWS-managed key `aws/dynamodb`: encrypted at
   * rest, every use logged in CloudTrail, no key policy to get wrong and no key whose deletion
   * would make a retained table unreadable. Partner API keys are stored hashed either way.
   * @default - AWS-managed key
   */
  readonly encryptionKey?: IKey;
  /**
   * The global secondary indexes to have, by name, for an upgrade in steps (one index added or
   * removed per deployment; see table-indexes.ts). @default - this version's indexes
   */
  readonly indexes?: readonly string[];
}

/**
 * The single table of the service (tenants, steps, events, partners, webhooks, deliveries,
 * idempotency records): the key schema of `functions/adapters/dynamodb/schema.ts`, on demand,
 * point-in-time recovery, TTL on `expiresAt`, retained when the stack is deleted, and a stream
 * of new images from which webhook deliveries are made.
 */
export class TenantTable extends Construct {
  readonly table: Table;
  readonly partitionKey: string = TABLE_KEYS.partitionKey;
  readonly sortKey: string = TABLE_KEYS.sortKey;
  readonly ttlAttribute: string = TABLE_KEYS.ttl;
  /** GSI of a partner's tenants and deliveries, newest first (sharded partition values, see keys.ts). */
  readonly byPartnerIndex: string = TABLE_INDEXES.byPartner.name;
  /** GSI of every tenant, partner and delivery, newest first (sharded partition values). */
  readonly allTenantsIndex: string = TABLE_INDEXES.all.name;

  constructor(scope: Construct, id: string, props: TenantTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, "Table", {
      partitionKey: { name: this.partitionKey, type: AttributeType.STRING },
      sortKey: { name: this.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: this.ttlAttribute,
      stream: StreamViewType.NEW_IMAGE,
      ...(props.encryptionKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: TableEncryption.AWS_MANAGED }),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of tableIndexes(props.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        // Keys and status only: other changes (steps, attempts, logs) write nothing to the index.
        ...(index.projection === "all"
          ? { projectionType: ProjectionType.ALL }
          : { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] }),
      });
    }
  }
}
