//! mimalloc as the global allocator of the builds without a sanitizer (the `mimalloc`
//! feature, which `run-all` enables for them).
//!
//! Through mimalloc's C API rather than the `mimalloc` crate: that crate sends every request
//! down mimalloc's aligned entry points, whose extra checks took a third of the allocator's
//! time in the parser targets. Every block mimalloc hands out is aligned to its word size
//! (its size classes are multiples of it), so a layout that asks for no more than that is
//! served by the plain `mi_malloc` family; a larger alignment still takes the aligned one.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has (`MI_INTPTR_SIZE`).
const WORD: usize = core::mem::size_of::<usize>();

pub struct MiMalloc;

// SAFETY: every method forwards to the mimalloc function with the same contract as the
// `GlobalAlloc` one; alignments above `WORD` go to the aligned variants, and every block is
// freed and resized by the same allocator that made it (`mi_free` and `mi_realloc` take
// blocks from either family). `alloc_zeroed` is the trait's own (`alloc`, then zeroing):
// the targets hardly ask for zeroed memory. `realloc` is forwarded because mimalloc can
// often resize in place, and the targets' strings and vectors grow all the time.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = if layout.align() <= WORD {
            unsafe { mi::mi_malloc(layout.size()) }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) }
        };
        p.cast()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = if layout.align() <= WORD {
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size) }
        } else {
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()) }
        };
        p.cast()
    }
}
