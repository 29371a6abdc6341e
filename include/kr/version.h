#ifndef KR_VERSION_H
#define KR_VERSION_H
#define KR_VERSION "0.1.0"
#endif
