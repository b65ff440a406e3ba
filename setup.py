"""Build script: compiles the Cython modules ``typedgen/_regex.pyx`` (the regex front end),
``typedgen/_automaton.pyx`` (the lazy DFA), ``typedgen/_trie.pyx`` (the vocabulary's trie and
its walks), ``typedgen/_fsm.pyx`` (the guides: masks) and ``typedgen/_grammar.pyx`` (the grammar
engine); all metadata is in pyproject."""

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension("typedgen._automaton", ["typedgen/_automaton.pyx"], extra_compile_args=["-O3"]),
    Extension("typedgen._trie", ["typedgen/_trie.pyx"], extra_compile_args=["-O3"]),
    Extension(
        "typedgen._fsm",
        ["typedgen/_fsm.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # OpenMP: fill_bitmasks shares a batch's rows between threads
        extra_compile_args=["-O3", "-fopenmp"],
        extra_link_args=["-fopenmp"],
    ),
    Extension("typedgen._regex", ["typedgen/_regex.pyx"], extra_compile_args=["-O3"]),
    Extension("typedgen._grammar", ["typedgen/_grammar.pyx"], extra_compile_args=["-O3"]),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level="3",
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
