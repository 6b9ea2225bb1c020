#include <hdf5.h>

// HDF5's "constants" are macros that expand to library globals behind H5open(); Swift can import neither.
static inline hid_t    shim_H5T_NATIVE_FLOAT(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t    shim_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t    shim_H5T_NATIVE_INT64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t    shim_H5T_C_S1(void)          { return H5T_C_S1; }
static inline unsigned shim_H5F_ACC_RDONLY(void)    { return H5F_ACC_RDONLY; }
static inline unsigned shim_H5F_ACC_TRUNC(void)     { return H5F_ACC_TRUNC; }
static inline hid_t    shim_H5P_DEFAULT(void)       { return H5P_DEFAULT; }
static inline hid_t    shim_H5S_ALL(void)           { return H5S_ALL; }
