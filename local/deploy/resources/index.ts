// The resource types the local deployer creates or registers, one handler per type (one file
// per service in this folder). Types not listed here are skipped (see skipped.ts).
import type { Handler } from '../types';
import { deployTable } from './dynamodb';
import { eventSourceMapping } from './event-source-mapping';
import { firehoseDeliveryStream } from './firehose';
import { iamManagedPolicy, iamPolicy, iamRole } from './iam';
import { kinesisStream, kinesisStreamConsumer } from './kinesis';
import { lambdaEventInvokeConfig, lambdaFunction } from './lambda';
import { s3Bucket } from './s3';
import { eventsRule, schedulerSchedule } from './schedules';

export const HANDLERS: Readonly<Record<string, Handler>> = {
  'AWS::Kinesis::Stream': kinesisStream,
  'AWS::Kinesis::StreamConsumer': kinesisStreamConsumer,
  'AWS::DynamoDB::Table': (a) => deployTable(a, false),
  'AWS::DynamoDB::GlobalTable': (a) => deployTable(a, true),
  'AWS::S3::Bucket': s3Bucket,
  'AWS::KinesisFirehose::DeliveryStream': firehoseDeliveryStream,
  'AWS::Lambda::Function': lambdaFunction,
  'AWS::Lambda::EventInvokeConfig': lambdaEventInvokeConfig,
  'AWS::Lambda::EventSourceMapping': eventSourceMapping,
  'AWS::Events::Rule': eventsRule,
  'AWS::Scheduler::Schedule': schedulerSchedule,
};

/** Handled only when the deployment has an IAM registry (the local cloud always gives one). */
export const IAM_HANDLERS: Readonly<Record<string, Handler>> = {
  'AWS::IAM::Role': iamRole,
  'AWS::IAM::Policy': iamPolicy,
  'AWS::IAM::RolePolicy': iamPolicy,
  'AWS::IAM::ManagedPolicy': iamManagedPolicy,
};
