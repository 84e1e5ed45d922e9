"""The file layer: reading and writing image files, and which files a command may read and write.

- :mod:`~ldmatte.fileio.readwrite` knows bytes and pixels: checked image readers (:func:`read_rgba`, header checks
  before any decoder runs), atomic writers (temp file + fsync + rename), the temp-name scheme, :func:`encode_png`.
  Its old name ``ldmatte.io`` still imports.
- :mod:`~ldmatte.fileio.ownership` holds the ownership rules on top of it: inputs collected once per device and
  inode, inputs and outputs disjoint, output folders claimed with a marker, one line per fault, Ctrl-C as a flag.
  Its old name ``ldmatte.files`` still imports.
- ``_image_headers`` reads image sizes from headers; ``_filetype`` tells a regular file from a pipe or a device.

``readwrite`` never imports ``ownership`` (the layer imports only downward).
"""
