//! The codecs are exact, and damaged bytes are errors, never panics.

use barrow_array::Block;
use barrow_core::{ErrorKind, Registry, Value};
use ndarray::{ArrayD, IxDyn};

use crate::remote::round_trip;

fn frame(value: &Value) -> Vec<u8> {
    barrow_wire::encode(value, Registry::global().codecs()).expect("encode")
}

/// `data` round-trips: the bytes again equal (checked by `round_trip`),
/// and the copy is equal (or, holding NaN, prints the same).
fn exact<T: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static>(data: T) {
    let back = round_trip(&Value::new(data.clone())).expect("round trip");
    let back = back.downcast_ref::<T>().expect("type");
    assert!(
        back == &data || format!("{back:?}") == format!("{data:?}"),
        "{back:?} != {data:?}"
    );
}

fn blocks<T: barrow_array::Element>(values: Vec<T>, fill: T) {
    let n = values.len();
    let dense = ArrayD::from_shape_vec(IxDyn(&[n]), values).expect("shape");
    exact(Block::Dense(dense.clone()));
    exact(dense.clone());
    exact(Block::filled(&[3, 0, 2], fill));
    exact(Block::filled(&[], fill));
    exact(Block::<T>::Dense(
        ArrayD::from_shape_vec(IxDyn(&[0, 4]), vec![]).expect("empty"),
    ));
    exact(ArrayD::from_elem(IxDyn(&[]), fill));
}

#[test]
fn large_blocks_are_sent_from_their_own_memory_in_any_layout() {
    let codecs = Registry::global().codecs();
    let options = barrow_wire::WireOptions::new();
    let data = ArrayD::from_shape_fn(IxDyn(&[300, 200]), |i| (i[0] * 200 + i[1]) as f64);
    let dense = Block::Dense(data.clone()).into_value();
    let frame = barrow_wire::encode_frame(&dense, codecs, &options).expect("encode");
    assert_eq!(
        frame.tail().len(),
        300 * 200 * 8,
        "the elements are borrowed"
    );
    // Transposed: not in row-major order, so encoded whole, and the same.
    let transposed = Block::Dense(data.reversed_axes()).into_value();
    let frame = barrow_wire::encode_frame(&transposed, codecs, &options).expect("encode");
    assert!(frame.tail().is_empty());
    let back = round_trip(&transposed).expect("round trip");
    assert_eq!(
        back.downcast_ref::<Block<f64>>().expect("a block"),
        transposed.downcast_ref::<Block<f64>>().expect("a block")
    );
}

#[test]
fn blocks_of_every_type_round_trip_exactly() {
    blocks(
        vec![0.5f64, -0.0, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE],
        1.5,
    );
    blocks(vec![0.5f32, f32::NAN, -3.25], f32::NEG_INFINITY);
    blocks(vec![i64::MIN, -1, i64::MAX], 7);
    blocks(vec![i32::MIN, 0, 9], -2);
    blocks(vec![i16::MIN, 3], 5);
    blocks(vec![i8::MIN, i8::MAX], -1);
    blocks(vec![u64::MAX, 0], 3);
    blocks(vec![u32::MAX, 1], 4);
    blocks(vec![u16::MAX, 2], 6);
    blocks(vec![255u8, 0, 17], 9);
    blocks(vec![usize::MAX, 0, 12], 8);
    blocks(vec![true, false, true], true);
    // A NaN's payload survives, bit for bit.
    let odd = f64::from_bits(0x7ff8_dead_beef_0001);
    let back = round_trip(&Block::filled(&[2], odd).into_value()).expect("round trip");
    let value = back
        .downcast_ref::<Block<f64>>()
        .expect("block")
        .fill_value();
    assert_eq!(value.map(f64::to_bits), Some(odd.to_bits()));
}

#[test]
fn blocks_in_any_layout_arrive_row_major() {
    let data = ArrayD::from_shape_fn(IxDyn(&[3, 4, 2]), |ix| {
        (ix[0] * 100 + ix[1] * 10 + ix[2]) as i32
    });
    let transposed = data.clone().reversed_axes();
    let back = round_trip(&Block::Dense(transposed.clone()).into_value()).expect("round trip");
    let back = back.downcast_ref::<Block<i32>>().expect("block");
    assert_eq!(back, &Block::Dense(transposed.clone()));
    assert!(back.view().is_standard_layout());
    let stepped = data.slice_move(ndarray::s![..;2, 1.., ..;-1]).into_dyn();
    exact(Block::Dense(stepped));
}

#[test]
fn reduction_partials_round_trip_exactly() {
    exact(ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![Some(1.5f64), None]).expect("shape"));
    exact(ArrayD::from_shape_vec(IxDyn(&[3]), vec![Some(7i64), None, Some(-1)]).expect("shape"));
    exact(
        ArrayD::from_shape_vec(
            IxDyn(&[2]),
            vec![Some((f32::NAN.to_bits() as f32, 3usize)), None],
        )
        .expect("shape"),
    );
    exact(ArrayD::from_shape_vec(IxDyn(&[1]), vec![Some((2.5f64, 9usize))]).expect("shape"));
    exact(
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![Some((4usize, 0.5f64, 2.25f64)), None])
            .expect("shape"),
    );
    exact(ArrayD::from_shape_vec(IxDyn(&[1, 1]), vec![Some(true)]).expect("shape"));
    exact(ArrayD::<Option<(bool, usize)>>::from_elem(
        IxDyn(&[0]),
        None,
    ));
    exact(42usize);
    exact(vec![1usize, 2, usize::MAX]);
    exact(vec![-1isize, 4, isize::MIN]);
}

#[test]
fn damaged_bytes_are_codec_errors() {
    let codecs = Registry::global().codecs();
    let values = [
        Block::Dense(ArrayD::from_shape_fn(IxDyn(&[3, 5]), |ix| {
            ix[0] as f64 - ix[1] as f64
        }))
        .into_value(),
        Block::filled(&[1000, 1000], 2u16).into_value(),
        Block::Dense(ArrayD::from_elem(IxDyn(&[4]), true)).into_value(),
        Value::new(
            ArrayD::from_shape_vec(IxDyn(&[2]), vec![Some((1.0f64, 2usize)), None]).expect("shape"),
        ),
        Value::new(ArrayD::from_elem(IxDyn(&[2, 2]), 3i8)),
    ];
    for value in &values {
        let codec = codecs.for_value(value).expect("codec");
        let mut payload = Vec::new();
        codec.encode(value, &mut payload).expect("encode");
        for cut in 0..payload.len() {
            let err = codec.decode(&payload[..cut]).expect_err("truncated");
            assert_eq!(err.kind(), ErrorKind::Codec, "{err}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert!(codec.decode(&longer).is_err());
        for at in 0..payload.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut damaged = payload.clone();
                damaged[at] ^= flip;
                // Damage that still describes a valid value may decode; none may panic.
                let _ = codec.decode(&damaged);
            }
        }
        // A whole frame too.
        let bytes = frame(value);
        assert!(barrow_wire::decode(&bytes[..bytes.len() - 1], codecs).is_err());
    }
    // Element bytes that are no bool, and shapes beyond memory.
    let codec = codecs.for_value(&values[2]).expect("codec");
    let mut payload = Vec::new();
    codec.encode(&values[2], &mut payload).expect("encode");
    *payload.last_mut().expect("bytes") = 7;
    assert_eq!(
        codec.decode(&payload).expect_err("bool").kind(),
        ErrorKind::Codec
    );
    let mut huge = vec![0u8, 10, 2, 0, 0, 0];
    huge.extend(u64::MAX.to_le_bytes());
    huge.extend(u64::MAX.to_le_bytes());
    let codec = codecs.for_value(&values[0]).expect("codec");
    assert_eq!(
        codec.decode(&huge).expect_err("huge").kind(),
        ErrorKind::Codec
    );
}
