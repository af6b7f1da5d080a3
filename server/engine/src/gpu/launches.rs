//! Counts the candle operations the GPU model issues: each is a kernel
//! launch on a GPU (views such as reshapes and narrows are not counted), so
//! a test on candle's CPU device can check that a decode step's launches do
//! not grow with the number of sequences in it.

use std::cell::Cell;

use candle_core::{Result, Tensor};

thread_local! {
    static ISSUED: Cell<usize> = const { Cell::new(0) };
}

/// Counts one operation and passes its result on.
pub fn op<T>(result: Result<T>) -> Result<T> {
    ISSUED.set(ISSUED.get() + 1);
    result
}

/// `t` made contiguous: a copy (counted) only when it is not already.
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        op(t.contiguous())
    }
}

/// Operations this thread has issued so far.
pub fn issued() -> usize {
    ISSUED.get()
}
