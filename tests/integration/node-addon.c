/* A Node-API addon for test-node: readOne(fd) reads one byte from fd with
 * read(2), blocking, and returns the count. A native addon's blocking read
 * made in a callback is the program's, whichever runtime frames lie below
 * it. Built by test-node.sh when node_api.h is installed. */
#include <node_api.h>
#include <unistd.h>

static napi_value read_one(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value arg, ret;
    int32_t fd;
    char c;
    if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok ||
        argc != 1 || napi_get_value_int32(env, arg, &fd) != napi_ok)
        return NULL;
    ssize_t n = read(fd, &c, 1);
    napi_create_int32(env, (int32_t)n, &ret);
    return ret;
}

static napi_value init(napi_env env, napi_value exports)
{
    napi_value fn;
    if (napi_create_function(env, "readOne", NAPI_AUTO_LENGTH, read_one,
                             NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, "readOne", fn) != napi_ok)
        return NULL;
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
