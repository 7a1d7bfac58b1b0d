#ifndef DAXRIG_CLIBVIRT_SHIM_H
#define DAXRIG_CLIBVIRT_SHIM_H
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif
