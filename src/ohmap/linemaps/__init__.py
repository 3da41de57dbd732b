"""Stage 2, line maps: contamination and continuum removal, emission-line maps, alignment to
the reference PA and inverse-variance stacking (Wang et al. 2017, Sect. 4.3).

Modules, in the order data flow through them:

* :mod:`~ohmap.linemaps.settings`: the ``linemaps`` configuration section;
* :mod:`~ohmap.linemaps.maps`: the line-map data model;
* extraction, per galaxy, PA and grism: :mod:`~ohmap.linemaps.footprint` (the object's
  aperture), :mod:`~ohmap.linemaps.continuum` (contamination and continuum removal),
  :mod:`~ohmap.linemaps.cutouts` (maps on the spectrum grid),
  :mod:`~ohmap.linemaps.contour_deblend` (the paper's per-PA de-blending of H-beta/[OIII] and
  H-alpha/[SII]) and :mod:`~ohmap.linemaps.extract` (the driver);
* alignment to the reference PA: :mod:`~ohmap.linemaps.nccf` (Eq. 1),
  :mod:`~ohmap.linemaps.interpolation`, :mod:`~ohmap.linemaps.shift_fit` and
  :mod:`~ohmap.linemaps.align` (the driver);
* per galaxy: :mod:`~ohmap.linemaps.joint_deblend` (multi-PA forward-model de-blending) and
  :mod:`~ohmap.linemaps.stack` (vetting and stacking);
* :mod:`~ohmap.linemaps.products`: the extraction, alignment and stacked-map files.
"""
