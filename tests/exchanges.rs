//! Exchanges and exchange-to-exchange bindings against RabbitMQ 3.10's measured behaviour
//! (docs/rabbitmq-reference.md §2): declare checks and equivalence texts, reserved names,
//! delete semantics, binding errors, auto-delete.

use lapin::options::{
    ConfirmSelectOptions, ExchangeBindOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    ExchangeUnbindOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_protocol::method::exchange;
use warren_testkit::raw::RawClient;
use warren_testkit::{assert_reply, TestBroker};

fn opts() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions::default()
}

fn ae(name: &str) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString(LongString::from(name)),
    );
    t
}

async fn declare(ch: &Channel, name: &str, kind: ExchangeKind, o: ExchangeDeclareOptions) {
    ch.exchange_declare(name.into(), kind, o, FieldTable::default())
        .await
        .expect("declare");
}

// ---- declare

#[tokio::test]
async fn declare_with_an_invalid_type_is_a_503_connection_error() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_declare(
            "e".into(),
            ExchangeKind::Custom("foo".into()),
            opts(),
            FieldTable::default(),
        )
        .await,
        503,
        "COMMAND_INVALID - invalid exchange type 'foo'",
    );
    assert!(conn.create_channel().await.is_err(), "connection survived");
}

#[tokio::test]
async fn declare_with_an_unknown_x_type_is_503_unknown_exchange_type() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_declare(
            "e".into(),
            ExchangeKind::Custom("x-modulus-hash".into()),
            opts(),
            FieldTable::default(),
        )
        .await,
        503,
        "COMMAND_INVALID - unknown exchange type 'x-modulus-hash'",
    );
}

#[tokio::test]
async fn invalid_type_close_names_exchange_declare() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(
        1,
        exchange::Declare {
            exchange: "e".into(),
            kind: "Direct".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        c.expect_connection_close().await,
        (
            503,
            "COMMAND_INVALID - invalid exchange type 'Direct'".to_owned(),
            40,
            10
        )
    );
}

#[tokio::test]
async fn redeclare_with_another_type_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "e", ExchangeKind::Direct, opts()).await;
    assert_reply(
        ch.exchange_declare("e".into(), ExchangeKind::Fanout, opts(), FieldTable::default())
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'e' in vhost '/': received 'fanout' but current is 'direct'",
    );
}

#[tokio::test]
async fn redeclare_with_other_flags_is_406_per_flag() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "e", ExchangeKind::Direct, opts()).await;
    for (flag, o) in [
        (
            "durable",
            ExchangeDeclareOptions {
                durable: true,
                ..opts()
            },
        ),
        (
            "auto_delete",
            ExchangeDeclareOptions {
                auto_delete: true,
                ..opts()
            },
        ),
        (
            "internal",
            ExchangeDeclareOptions {
                internal: true,
                ..opts()
            },
        ),
    ] {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(
            ch.exchange_declare("e".into(), ExchangeKind::Direct, o, FieldTable::default())
                .await,
            406,
            &format!("PRECONDITION_FAILED - inequivalent arg '{flag}' for exchange 'e' in vhost '/': received 'true' but current is 'false'"),
        );
    }
}

#[tokio::test]
async fn redeclare_adding_an_alternate_exchange_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "e", ExchangeKind::Direct, opts()).await;
    assert_reply(
        ch.exchange_declare("e".into(), ExchangeKind::Direct, opts(), ae("amq.fanout"))
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'e' in vhost '/': received the value 'amq.fanout' of type 'longstr' but current is none",
    );
}

#[tokio::test]
async fn redeclare_dropping_the_alternate_exchange_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.exchange_declare("e".into(), ExchangeKind::Direct, opts(), ae("amq.fanout"))
        .await
        .unwrap();
    assert_reply(
        ch.exchange_declare("e".into(), ExchangeKind::Direct, opts(), FieldTable::default())
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'e' in vhost '/': received none but current is the value 'amq.fanout' of type 'longstr'",
    );
}

#[tokio::test]
async fn redeclare_with_another_alternate_exchange_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.exchange_declare("e".into(), ExchangeKind::Direct, opts(), ae("amq.fanout"))
        .await
        .unwrap();
    assert_reply(
        ch.exchange_declare("e".into(), ExchangeKind::Direct, opts(), ae("x"))
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'e' in vhost '/': received 'x' but current is 'amq.fanout'",
    );
}

#[tokio::test]
async fn redeclare_with_other_arguments_is_accepted() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "e", ExchangeKind::Direct, opts()).await;
    let mut args = FieldTable::default();
    args.insert("x-foo".into(), AMQPValue::LongInt(1));
    args.insert("foo".into(), AMQPValue::LongInt(1));
    ch.exchange_declare("e".into(), ExchangeKind::Direct, opts(), args)
        .await
        .expect("only alternate-exchange is compared");
}

#[tokio::test]
async fn passive_declare_ignores_type_and_flags() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "e",
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..opts()
        },
    )
    .await;
    declare(
        &ch,
        "e",
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            passive: true,
            ..opts()
        },
    )
    .await;
}

#[tokio::test]
async fn passive_declare_of_a_missing_exchange_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_declare(
            "no-such-exchange".into(),
            ExchangeKind::Custom("foo".into()),
            ExchangeDeclareOptions {
                passive: true,
                ..opts()
            },
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    );
}

#[tokio::test]
async fn declaring_an_amq_prefixed_name_is_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_declare(
            "amq.foo".into(),
            ExchangeKind::Direct,
            opts(),
            FieldTable::default(),
        )
        .await,
        403,
        "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
    );
}

#[tokio::test]
async fn the_amq_prefix_check_is_case_sensitive() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "AMQ.foo", ExchangeKind::Direct, opts()).await;
}

#[tokio::test]
async fn builtin_exchanges_are_checked_for_equivalence_before_the_prefix() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_declare("amq.direct".into(), ExchangeKind::Direct, opts(), FieldTable::default())
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.direct' in vhost '/': received 'false' but current is 'true'",
    );
    let ch = conn.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..opts()
    };
    declare(&ch, "amq.direct", ExchangeKind::Direct, durable).await;
    declare(&ch, "amq.topic", ExchangeKind::Topic, durable).await;
    for name in ["amq.fanout", "amq.headers", "amq.match"] {
        declare(
            &ch,
            name,
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                passive: true,
                ..opts()
            },
        )
        .await;
    }
}

#[tokio::test]
async fn declaring_the_default_exchange_is_403() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    for passive in [false, true] {
        let ch = if passive {
            conn.create_channel().await.unwrap()
        } else {
            ch.clone()
        };
        assert_reply(
            ch.exchange_declare(
                "".into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions { passive, ..opts() },
                FieldTable::default(),
            )
            .await,
            403,
            "ACCESS_REFUSED - operation not permitted on the default exchange",
        );
    }
}

// ---- delete

#[tokio::test]
async fn deleting_the_default_exchange_is_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_delete("".into(), ExchangeDeleteOptions::default())
            .await,
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
}

#[tokio::test]
async fn deleting_any_amq_exchange_is_403() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    for name in ["amq.direct", "amq.foo"] {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(
            ch.exchange_delete(name.into(), ExchangeDeleteOptions::default())
                .await,
            403,
            &format!(
                "ACCESS_REFUSED - deletion of system exchange '{name}' in vhost '/' not allowed"
            ),
        );
    }
}

#[tokio::test]
async fn deleting_a_missing_exchange_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    for if_unused in [false, true] {
        ch.exchange_delete(
            "no-such-exchange".into(),
            ExchangeDeleteOptions {
                if_unused,
                ..Default::default()
            },
        )
        .await
        .expect("idempotent delete");
    }
}

#[tokio::test]
async fn delete_if_unused_of_a_binding_source_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "e", ExchangeKind::Direct, opts()).await;
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "q".into(),
        "e".into(),
        "k".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    assert_reply(
        ch.exchange_delete(
            "e".into(),
            ExchangeDeleteOptions {
                if_unused: true,
                ..Default::default()
            },
        )
        .await,
        406,
        "PRECONDITION_FAILED - exchange 'e' in vhost '/' in use",
    );
}

#[tokio::test]
async fn delete_if_unused_of_an_exchange_that_is_only_a_destination_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "e", ExchangeKind::Direct, opts()).await;
    ch.exchange_bind(
        "e".into(),
        "amq.fanout".into(),
        "".into(),
        ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_delete(
        "e".into(),
        ExchangeDeleteOptions {
            if_unused: true,
            ..Default::default()
        },
    )
    .await
    .expect("only outgoing bindings count");
}

#[tokio::test]
async fn deleting_an_exchange_removes_its_bindings() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare(&ch, "e", ExchangeKind::Fanout, opts()).await;
    ch.exchange_bind(
        "e".into(),
        "amq.fanout".into(),
        "".into(),
        ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "q".into(),
        "e".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_delete("e".into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
    declare(&ch, "e", ExchangeKind::Fanout, opts()).await;
    warren_testkit::publish_confirmed(&ch, "amq.fanout", "", BasicProperties::default())
        .await
        .unwrap();
    warren_testkit::publish_confirmed(&ch, "e", "", BasicProperties::default())
        .await
        .unwrap();
    assert_eq!(warren_testkit::depth(&ch, "q").await, 0);
}

// ---- publish

#[tokio::test]
async fn publishing_to_a_missing_exchange_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert_reply(
        warren_testkit::publish_confirmed(&ch, "no-such-exchange", "k", BasicProperties::default())
            .await,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    );
}

#[tokio::test]
async fn publishing_to_an_internal_exchange_is_403() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare(
        &ch,
        "inner",
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            internal: true,
            ..opts()
        },
    )
    .await;
    assert_reply(
        warren_testkit::publish_confirmed(&ch, "inner", "k", BasicProperties::default()).await,
        403,
        "ACCESS_REFUSED - cannot publish to internal exchange 'inner' in vhost '/'",
    );
}

// ---- exchange-to-exchange bindings

#[tokio::test]
async fn exchange_bind_with_a_missing_source_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_bind(
            "amq.fanout".into(),
            "no-such-exchange".into(),
            "".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    );
}

#[tokio::test]
async fn exchange_bind_with_a_missing_destination_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_bind(
            "no-such-exchange".into(),
            "amq.fanout".into(),
            "".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    );
}

#[tokio::test]
async fn exchange_bind_with_both_missing_reports_the_source() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.exchange_bind(
            "no-such-x1".into(),
            "no-such-x2".into(),
            "".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no exchange 'no-such-x2' in vhost '/'",
    );
}

#[tokio::test]
async fn exchange_bind_and_unbind_with_the_default_exchange_are_403() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    for (destination, source, unbind) in [
        ("", "amq.fanout", false),
        ("amq.fanout", "", false),
        ("amq.fanout", "", true),
        ("", "amq.fanout", true),
    ] {
        let ch = conn.create_channel().await.unwrap();
        let result = if unbind {
            ch.exchange_unbind(
                destination.into(),
                source.into(),
                "".into(),
                ExchangeUnbindOptions::default(),
                FieldTable::default(),
            )
            .await
        } else {
            ch.exchange_bind(
                destination.into(),
                source.into(),
                "".into(),
                ExchangeBindOptions::default(),
                FieldTable::default(),
            )
            .await
        };
        assert_reply(
            result,
            403,
            "ACCESS_REFUSED - operation not permitted on the default exchange",
        );
    }
}

#[tokio::test]
async fn exchange_unbind_of_missing_things_succeeds() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    for (destination, source) in [
        ("amq.fanout", "amq.direct"),
        ("amq.fanout", "no-such-exchange"),
        ("no-such-exchange", "amq.fanout"),
    ] {
        ch.exchange_unbind(
            destination.into(),
            source.into(),
            "nope".into(),
            ExchangeUnbindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("unbind-ok");
    }
}

#[tokio::test]
async fn queue_bind_errors_report_the_exchange_first() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_bind(
            "no-such-queue".into(),
            "no-such-exchange".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_bind(
            "no-such-queue".into(),
            "amq.direct".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no queue 'no-such-queue' in vhost '/'",
    );
}

#[tokio::test]
async fn queue_bind_and_unbind_with_the_default_exchange_are_403() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    assert_reply(
        ch.queue_bind(
            "q".into(),
            "".into(),
            "q".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_unbind("q".into(), "".into(), "q".into(), FieldTable::default())
            .await,
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
}

#[tokio::test]
async fn headers_binding_with_a_bad_x_match_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut args = FieldTable::default();
    args.insert("x-match".into(), AMQPValue::LongString("foo".into()));
    assert_reply(
        ch.queue_bind(
            "q".into(),
            "amq.headers".into(),
            "".into(),
            QueueBindOptions::default(),
            args,
        )
        .await,
        406,
        "PRECONDITION_FAILED - Invalid x-match field value <<\"foo\">>; expected all, any, all-with-x, or any-with-x",
    );
}

// ---- auto-delete

#[tokio::test]
async fn auto_delete_exchange_stays_until_its_last_binding_goes() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let auto = ExchangeDeclareOptions {
        auto_delete: true,
        ..opts()
    };
    declare(&ch, "ad", ExchangeKind::Direct, auto).await;
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..opts()
    };
    declare(&ch, "ad", ExchangeKind::Direct, passive).await;
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    for key in ["k1", "k2"] {
        ch.queue_bind(
            "q".into(),
            "ad".into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    ch.queue_unbind("q".into(), "ad".into(), "k1".into(), FieldTable::default())
        .await
        .unwrap();
    declare(&ch, "ad", ExchangeKind::Direct, passive).await;
    ch.queue_unbind("q".into(), "ad".into(), "k2".into(), FieldTable::default())
        .await
        .unwrap();
    assert_reply(
        ch.exchange_declare(
            "ad".into(),
            ExchangeKind::Direct,
            passive,
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no exchange 'ad' in vhost '/'",
    );
}

#[tokio::test]
async fn exchange_and_queue_names_are_not_validated() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    for name in ["bad name!*#", "exé"] {
        declare(&ch, name, ExchangeKind::Direct, opts()).await;
        declare(
            &ch,
            name,
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                passive: true,
                ..opts()
            },
        )
        .await;
    }
}
