//! What the table costs, from DynamoDB itself: every call asks for its consumed capacity by table and index
//! (`ReturnConsumedCapacity=INDEXES`, free of charge) and adds it to
//! `gd_incidents_dynamodb_capacity_units_total{operation, target}`, `target` being `table` or an index's
//! name. The bench divides it by findings to print the units a finding costs; an operator can graph it.
//! A write refused by its condition is charged by DynamoDB too, but its error does not say how much: those
//! are not counted.

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::telemetry::metrics::{self, CapacityLabels};

/// The SDK interceptor that asks DynamoDB for the capacity each call consumed and counts it.
#[derive(Debug, Default)]
pub struct CapacityMetrics;

/// Sets `ReturnConsumedCapacity=INDEXES` on the inputs of the operations the program calls.
fn ask(input: &mut aws_smithy_runtime_api::client::interceptors::context::Input) {
    let indexes = Some(ReturnConsumedCapacity::Indexes);
    if let Some(i) = input.downcast_mut::<PutItemInput>() {
        i.return_consumed_capacity = indexes;
    } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
        i.return_consumed_capacity = indexes;
    } else if let Some(i) = input.downcast_mut::<GetItemInput>() {
        i.return_consumed_capacity = indexes;
    } else if let Some(i) = input.downcast_mut::<QueryInput>() {
        i.return_consumed_capacity = indexes;
    } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
        i.return_consumed_capacity = indexes;
    } else if let Some(i) = input.downcast_mut::<BatchGetItemInput>() {
        i.return_consumed_capacity = indexes;
    }
}

/// The capacity an output reports, one entry per table.
fn consumed(output: &aws_smithy_runtime_api::client::interceptors::context::Output) -> &[ConsumedCapacity] {
    if let Some(o) = output.downcast_ref::<PutItemOutput>() {
        o.consumed_capacity.as_slice()
    } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
        o.consumed_capacity.as_slice()
    } else if let Some(o) = output.downcast_ref::<GetItemOutput>() {
        o.consumed_capacity.as_slice()
    } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
        o.consumed_capacity.as_slice()
    } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
        o.consumed_capacity.as_deref().unwrap_or_default()
    } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
        o.consumed_capacity.as_deref().unwrap_or_default()
    } else {
        &[]
    }
}

/// Adds what `capacity` reports to the counter, under `operation`: the table's units and each index's.
pub fn record(operation: &str, capacity: &ConsumedCapacity) {
    let family = &metrics::get().dynamodb_capacity;
    let add = |target: &str, units: Option<f64>| {
        if let Some(units) = units.filter(|u| *u > 0.0) {
            let labels = CapacityLabels { operation: operation.to_owned(), target: target.to_owned() };
            family.get_or_create(&labels).inc_by(units);
        }
    };
    match &capacity.table {
        Some(table) => add("table", table.capacity_units),
        // Without the breakdown, the total is the table's.
        None if capacity.global_secondary_indexes.is_none() => add("table", capacity.capacity_units),
        None => {}
    }
    for (index, used) in capacity.global_secondary_indexes.iter().flatten() {
        add(index, used.capacity_units);
    }
}

impl Intercept for CapacityMetrics {
    fn name(&self) -> &'static str {
        "CapacityMetrics"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ask(context.input_mut());
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(output) = context.output_or_error() {
            let operation = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>();
            let operation = operation.map_or("unknown", |m| m.name());
            for capacity in consumed(output) {
                record(operation, capacity);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::Capacity;

    use super::*;

    #[test]
    fn the_table_and_each_index_are_counted_apart() {
        let capacity = ConsumedCapacity::builder()
            .capacity_units(4.0)
            .table(Capacity::builder().capacity_units(2.0).build())
            .global_secondary_indexes("by-listing", Capacity::builder().capacity_units(1.0).build())
            .global_secondary_indexes("by-resource", Capacity::builder().capacity_units(1.0).build())
            .build();
        record("CapacityTestPut", &capacity);
        let text = metrics::get().encode();
        for line in [
            "gd_incidents_dynamodb_capacity_units_total{operation=\"CapacityTestPut\",target=\"table\"} 2.0",
            "gd_incidents_dynamodb_capacity_units_total{operation=\"CapacityTestPut\",target=\"by-listing\"} 1.0",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
