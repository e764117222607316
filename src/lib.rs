//! crcm
