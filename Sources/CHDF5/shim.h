#include <hdf5.h>

// HDF5's "constants" are macros that expand to library globals behind H5open(); Swift can import neither.
static inline hid_t    shim_H5T_NATIVE_FLOAT(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t    shim_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t    shim_H5T_NATIVE_INT64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t    shim_H5T_C_S1(void)          { return H5T_C_S1; }
static inline unsigned shim_H5F_ACC_RDONLY(void)    { return H5F_ACC_RDONLY; }
static inline unsigned shim_H5F_ACC_TRUNC(void)     { return H5F_ACC_TRUNC; }
static inline unsigned shim_H5F_ACC_EXCL(void)      { return H5F_ACC_EXCL; }
static inline hid_t    shim_H5P_DEFAULT(void)       { return H5P_DEFAULT; }
static inline hid_t    shim_H5S_ALL(void)           { return H5S_ALL; }

// Added for the HDF5 readers/writer in IPETFormats (HDF5File, TFCheckpoint, HDF5TensorContainer).
#include <string.h>

static inline hid_t    shim_H5E_DEFAULT(void)        { return H5E_DEFAULT; }

/* Switches libhdf5's automatic error printing off for the calling thread, once. In a thread-safe build (Debian's)
   every thread has its own default error stack with its own printing setting, so switching it off on the first
   thread that used the library left every other thread dumping HDF5-DIAG traces to stderr on failures we expect
   and turn into errors of our own. */
static inline void shim_silence_error_printing_on_this_thread(void) {
    static _Thread_local int silenced = 0;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        silenced = 1;
    }
}
static inline hid_t    shim_H5T_IEEE_F32LE(void)     { return H5T_IEEE_F32LE; }
static inline size_t   shim_H5T_VARIABLE(void)       { return H5T_VARIABLE; }
static inline hid_t    shim_H5P_FILE_CREATE(void)    { return H5P_FILE_CREATE; }
static inline hid_t    shim_H5P_FILE_ACCESS(void)    { return H5P_FILE_ACCESS; }
static inline hid_t    shim_H5P_LINK_ACCESS(void)    { return H5P_LINK_ACCESS; }
static inline hid_t    shim_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline haddr_t  shim_HADDR_UNDEF(void)        { return HADDR_UNDEF; }

// H5Lget_info is versioned (H5Lget_info2 / H5L_info2_t since 1.12); resolving the macro here keeps Swift portable.
// Returns the H5L_type_t of the link `name` relative to `loc` (not following it), or -1 if it does not exist.
static inline int shim_link_type(hid_t loc, const char *name, hid_t lapl) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, lapl) < 0) return -1;
    return (int)info.type;
}

// External links make libhdf5 open other files; a checkpoint must never do that. Installs a traversal callback
// that refuses every external link on a link-access property list.
static inline herr_t shim_refuse_external_link(const char *parent_file, const char *parent_group,
                                               const char *child_file, const char *child_object,
                                               unsigned *acc_flags, hid_t fapl, void *op_data) {
    (void)parent_file; (void)parent_group; (void)child_file; (void)child_object;
    (void)acc_flags; (void)fapl; (void)op_data;
    return -1;
}
static inline herr_t shim_refuse_external_links(hid_t lapl) {
    return H5Pset_elink_cb(lapl, shim_refuse_external_link, NULL);
}

// The description of the innermost error on the default stack (the most specific one), copied into `buf`.
// Returns the number of characters written (0 if the stack is empty).
typedef struct { char *buf; size_t size; size_t written; } shim_error_text_t;
static inline herr_t shim_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
    shim_error_text_t *t = (shim_error_text_t *)data;
    if (t->written > 0 || t->size == 0 || err == NULL || err->desc == NULL) return 0;
    (void)n;
    size_t len = strlen(err->desc);
    if (len >= t->size) len = t->size - 1;
    memcpy(t->buf, err->desc, len);
    t->buf[len] = 0;
    t->written = len;
    return 0;
}
static inline size_t shim_innermost_error(char *buf, size_t size) {
    shim_error_text_t t = { buf, size, 0 };
    if (size > 0) buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, shim_error_walker, &t);  // upward = most specific first
    return t.written;
}

// Variable-length strings without libhdf5's heap reader. libhdf5 1.10.8 copies a global-heap object into the
// conversion buffer without checking it against the string's recorded length (H5HG_read), so a corrupted heap
// overflows memory (found by fuzzing corrupted tf_model.h5 files). This conversion hands over the raw on-disk
// descriptors instead — (u32 length, heap collection address, u32 object index), 4 + sizeof_addr + 4 bytes each —
// and the caller reads the heap objects itself, with bounds checks. It converts a variable-length string to an
// opaque type tagged SHIM_VL_DESCRIPTOR_TAG of the same size, leaving the bytes as stored.
#define SHIM_VL_DESCRIPTOR_TAG "ipet-vl-descriptor"
static inline herr_t shim_vl_descriptor_conv(hid_t src, hid_t dst, H5T_cdata_t *cdata, size_t nelmts,
                                             size_t buf_stride, size_t bkg_stride, void *buf, void *bkg,
                                             hid_t dxpl) {
    (void)nelmts; (void)buf_stride; (void)bkg_stride; (void)buf; (void)bkg; (void)dxpl;
    switch (cdata->command) {
    case H5T_CONV_INIT: {
        if (H5Tis_variable_str(src) <= 0 || H5Tget_class(dst) != H5T_OPAQUE) return -1;
        char *tag = H5Tget_tag(dst);
        int ours = tag != NULL && strcmp(tag, SHIM_VL_DESCRIPTOR_TAG) == 0;
        if (tag != NULL) H5free_memory(tag);
        if (!ours || H5Tget_size(src) != H5Tget_size(dst)) return -1;
        cdata->need_bkg = H5T_BKG_NO;
        return 0;
    }
    case H5T_CONV_CONV: return 0;  // same size: the descriptors stay as stored on disk
    case H5T_CONV_FREE: return 0;
    default: return -1;
    }
}
static inline herr_t shim_register_vl_descriptor_conversion(void) {
    hid_t src = H5Tcopy(H5T_C_S1);
    if (src < 0) return -1;
    hid_t dst = H5Tcreate(H5T_OPAQUE, 16);
    herr_t status = -1;
    if (dst >= 0 && H5Tset_size(src, H5T_VARIABLE) >= 0 && H5Tset_tag(dst, SHIM_VL_DESCRIPTOR_TAG) >= 0)
        status = H5Tregister(H5T_PERS_SOFT, "ipet_vl_descriptor", src, dst, shim_vl_descriptor_conv);
    if (dst >= 0) H5Tclose(dst);
    H5Tclose(src);
    return status;
}
// The memory type that receives raw descriptors of `size` bytes each.
static inline hid_t shim_vl_descriptor_type(size_t size) {
    hid_t type = H5Tcreate(H5T_OPAQUE, size);
    if (type >= 0 && H5Tset_tag(type, SHIM_VL_DESCRIPTOR_TAG) < 0) {
        H5Tclose(type);
        return -1;
    }
    return type;
}

// One-pass link listing and object identities for HDF5File.walk (linear in the number of links, cycle-safe).
// Versioned APIs (H5Literate/H5L_info_t, H5Oget_info/H5O_info_t, H5Oopen_by_addr) are resolved here.
//
// shim_iterate_links calls `visit(name, link type, ctx)` for every link of `group` in `index` order, one pass
// (H5Literate; libhdf5 walks the group's B-tree or heap once). `visit` returns 0 to go on, non-zero to stop.
typedef int (*shim_link_visitor)(const char *name, int type, void *ctx);
typedef struct { shim_link_visitor visit; void *ctx; } shim_link_walk_t;
#if H5_VERSION_GE(1, 12, 0)
static inline herr_t shim_link_walker(hid_t group, const char *name, const H5L_info2_t *info, void *data) {
#else
static inline herr_t shim_link_walker(hid_t group, const char *name, const H5L_info_t *info, void *data) {
#endif
    (void)group;
    shim_link_walk_t *w = (shim_link_walk_t *)data;
    return w->visit(name, (int)info->type, w->ctx);
}
static inline herr_t shim_iterate_links(hid_t group, H5_index_t index, shim_link_visitor visit, void *ctx) {
    shim_link_walk_t w = { visit, ctx };
    hsize_t position = 0;
#if H5_VERSION_GE(1, 12, 0)
    return H5Literate2(group, index, H5_ITER_INC, &position, shim_link_walker, &w);
#else
    return H5Literate(group, index, H5_ITER_INC, &position, shim_link_walker, &w);
#endif
}

// An open object's identity in its file: its object-header address (1.10) or token (1.12+), as 16 bytes
// (zero-padded). Two links name the same object exactly when the identities are equal. Returns 0, or -1.
static inline int shim_object_identity(hid_t object, unsigned char identity[16]) {
    memset(identity, 0, 16);
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(object, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(identity, &info.token, sizeof(info.token) < 16 ? sizeof(info.token) : 16);
#else
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(identity, &info.addr, sizeof(info.addr));
#endif
    return 0;
}

// Opens the object with that identity (from shim_object_identity on the same file), without any path lookup.
static inline hid_t shim_open_by_identity(hid_t file, const unsigned char identity[16]) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_token_t token;
    memcpy(&token, identity, sizeof(token) < 16 ? sizeof(token) : 16);
    return H5Oopen_by_token(file, token);
#else
    haddr_t address;
    memcpy(&address, identity, sizeof(address));
    return H5Oopen_by_addr(file, address);
#endif
}
