//! An incremental join of two topics by key: orders with their customers, written to a
//! compacted topic as `order → "customer,amount"` and kept up to date as either side
//! changes.
//!
//! ```text
//! cargo run --release --example join                   # embedded Kafka with sample data
//! cargo run --release --example join -- --brokers localhost:9092 --group orders-view \
//!     --input orders,customers --output orders-with-customers --idle-exit 10
//! ```
//!
//! Both inputs are read with upsert meaning (compacted topics; make the output compacted
//! too): an order is keyed by its
//! id with payload `customer-id,amount`; a customer is keyed by its id with its name as
//! payload. Renaming a customer re-writes every order of theirs; deleting a customer (a
//! tombstone) deletes their orders from the view, which writes tombstones for them.

mod support;

use timely::dataflow::operators::vec::Filter;
use timely::dataflow::operators::Inspect;
use timely_kafka::differential::KafkaCollectionExt;
use timely_kafka::testing::{EmbeddedCluster, TestRecord};

fn sample(cluster: &EmbeddedCluster) -> Result<(), Box<dyn std::error::Error>> {
    let customer = |id: &str, name: &str| TestRecord::new(name).key(id);
    cluster.load(
        "customers",
        [
            customer("c1", "Ada"),
            customer("c2", "Grace"),
            customer("c3", "Edsger"),
        ],
    )?;
    let order = |id: &str, customer: &str, amount: &str| {
        TestRecord::new(format!("{customer},{amount}")).key(id)
    };
    cluster.load(
        "orders",
        [
            order("o1", "c1", "25.00"),
            order("o2", "c2", "12.50"),
            order("o3", "c1", "7.25"),
            order("o4", "c3", "99.00"),
        ],
    )?;
    // Later: Grace changes her name, Edsger leaves, o2 is amended.
    cluster.load(
        "customers",
        [
            customer("c2", "Grace Hopper"),
            TestRecord::tombstone().key("c3"),
        ],
    )?;
    cluster.load("orders", [order("o2", "c2", "13.00")])?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let example = support::Example {
        group: "orders-view",
        inputs: &[("orders", 2), ("customers", 2)],
        output: "orders-with-customers",
        shape: "order → customer,amount",
        sample,
    };
    support::run(example, |records, inputs| {
        let (orders_topic, customers_topic) = match inputs {
            [orders, customers] => (orders.clone(), customers.clone()),
            _ => panic!("--input takes two topics: orders,customers"),
        };
        let upserts_of = |topic: String| {
            let upserts = records
                .clone()
                .filter(move |r| *r.topic == *topic)
                .upserts();
            upserts
                .keyless
                .inspect(|r| eprintln!("skipped a record without a key: {}", r.position()));
            upserts.collection
        };
        // (customer, (order, amount)) joined with (customer, name).
        let orders = upserts_of(orders_topic).flat_map(|(order, value)| {
            let value = String::from_utf8_lossy(&value).into_owned();
            let (customer, amount) = value.split_once(',')?;
            Some((customer.as_bytes().to_vec(), (order, amount.to_owned())))
        });
        let customers = upserts_of(customers_topic);
        orders.join(customers).map(|(_, ((order, amount), name))| {
            let name = String::from_utf8_lossy(&name).into_owned();
            (order, format!("{name},{amount}").into_bytes())
        })
    })
}
