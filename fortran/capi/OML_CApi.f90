!! OML_CApi: the C entry points of libolcaoml (declared in olcaoml.h).
!!
!! Every entry point is bind(C) with the stable prefix "olcaoml_", takes
!! only C types, and returns an int status (0 on success, the codes of
!! OML_Status otherwise).  The last two arguments of most of them are a
!! caller-owned buffer for the error message and its length: the message
!! is copied there, cut to fit and NUL-terminated (the buffer may be NULL).
!! Because the caller owns the buffer and the model is never changed after
!! loading, several threads may call the library at the same time, on the
!! same model or on different ones.
!!
!! Pointers are received as type (c_ptr) by value so that every one of
!! them can be checked for NULL before it is used: a NULL pointer gives
!! OLCAOML_ERR_NULL_POINTER, never a crash.  Sizes are passed explicitly
!! and checked against the model.  Indices are 1-based, as in OLCAO.
!!
!! A model handle is the C address of a Fortran object allocated by
!! olcaoml_model_load and released by olcaoml_model_free.  The library
!! keeps the addresses of its live handles in a table of its own and looks
!! a handle up there before touching the memory behind it, so a handle
!! that was never loaded, or was freed already, gives OLCAOML_ERR_STATE
!! without reading freed memory.  A domain handle (olcaoml_domain_load,
!! API 2.3) lives in the same table under its own tag, so a model handle
!! given where a domain is expected, or the other way round, is
!! OLCAOML_ERR_STATE too.
module OML_CApi

   use, intrinsic :: iso_c_binding
   use OML_Kinds, only: double
   use OML_Status
   use OML_Model, only: OML_ModelType, omlModelFormatVersion, omlSymbolLen
   use OML_Library

   implicit none
   private

   !> Tag of a live handle ('OMLH' in ASCII) and of a freed one.
   integer (c_int32_t), parameter :: liveTag = 1330465864_c_int32_t
   integer (c_int32_t), parameter :: deadTag = 0_c_int32_t
   !> Tag of a live domain handle ('OMLD').
   integer (c_int32_t), parameter :: domainTag = 1330465860_c_int32_t

   type :: ModelHandleType
      integer (c_int32_t) :: tag = liveTag
      type (OML_ModelType) :: model
   end type ModelHandleType

   type :: DomainHandleType
      integer (c_int32_t) :: tag = domainTag
      type (OML_DomainType) :: domain
   end type DomainHandleType

   !> The addresses of the live handles (the first numLive entries), for
   !> looking a handle up before dereferencing it.  Changed and read only
   !> inside the critical section omlHandleTable.
   integer (c_intptr_t), allocatable, save :: liveHandles(:)
   integer (c_int32_t), allocatable, save :: liveTags(:)
   integer, save :: numLive = 0

   interface
      pure function c_strlen (text) bind(C, name='strlen')
         import :: c_ptr, c_size_t
         type (c_ptr), value :: text
         integer (c_size_t) :: c_strlen
      end function c_strlen
   end interface

   public :: olcaoml_api_version
   public :: olcaoml_model_format_version
   public :: olcaoml_model_load
   public :: olcaoml_model_free
   public :: olcaoml_model_num_elements
   public :: olcaoml_model_num_features
   public :: olcaoml_model_max_alphas
   public :: olcaoml_model_element_index
   public :: olcaoml_model_element_symbol
   public :: olcaoml_model_num_alphas
   public :: olcaoml_model_alphas
   public :: olcaoml_model_isolated_coeffs
   public :: olcaoml_model_charge_columns
   public :: olcaoml_descriptors
   public :: olcaoml_predict_from_descriptors
   public :: olcaoml_predict
   public :: olcaoml_write_scfv
   public :: olcaoml_check_pot_types
   public :: olcaoml_fill_pot_coeffs
   public :: olcaoml_expected_iterations
   public :: olcaoml_num_iteration_groups
   public :: olcaoml_iteration_group_name
   public :: olcaoml_iteration_group
   public :: olcaoml_expected_iterations_in_group
   public :: olcaoml_domain_load
   public :: olcaoml_domain_free
   public :: olcaoml_domain_ratio
   public :: olcaoml_median_domain
   public :: olcaoml_domain_handover_threshold

contains

   ! ------------------------------------------------------------------
   ! Helpers
   ! ------------------------------------------------------------------

   !> Copy a message into the caller's buffer (cut, NUL-terminated).
   subroutine putMessage (text, buffer, bufferLen)

      implicit none

      character (len=*), intent(in) :: text
      type (c_ptr), intent(in) :: buffer
      integer (c_int), intent(in) :: bufferLen

      character (kind=c_char), pointer :: chars(:)
      integer :: i, n

      if (.not. c_associated(buffer) .or. bufferLen < 1) return
      call c_f_pointer (buffer, chars, (/ int(bufferLen) /))
      n = min(len_trim(text), int(bufferLen) - 1)
      do i = 1, n
         chars(i) = text(i:i)
      enddo
      chars(n + 1) = c_null_char

   end subroutine putMessage

   !> Status plus message for the caller, in one step.
   integer (c_int) function finish (status, message, buffer, bufferLen)

      implicit none

      integer, intent(in) :: status
      character (len=*), intent(in) :: message
      type (c_ptr), intent(in) :: buffer
      integer (c_int), intent(in) :: bufferLen

      if (status == omlSuccess) then
         call putMessage ('', buffer, bufferLen)
      else
         call putMessage (message, buffer, bufferLen)
      endif
      finish = int(status, c_int)

   end function finish

   !> A NUL-terminated C string as a Fortran string.
   function fromCString (text) result (string)

      implicit none

      type (c_ptr), intent(in) :: text
      character (len=:), allocatable :: string

      character (kind=c_char), pointer :: chars(:)
      integer :: n, i

      n = int(c_strlen(text))
      allocate (character (len=n) :: string)
      if (n == 0) return
      call c_f_pointer (text, chars, (/ n /))
      do i = 1, n
         string(i:i) = chars(i)
      enddo

   end function fromCString

   !> The model behind a handle, or a status saying why there is none.
   subroutine getModel (handle, object, status, message)

      implicit none

      type (c_ptr), intent(in) :: handle
      type (ModelHandleType), pointer, intent(out) :: object
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      status = omlSuccess
      message = ''
      nullify (object)
      if (.not. c_associated(handle)) then
         call setStatus (status, message, omlErrNullPointer, &
               & 'model: the handle is NULL')
         return
      endif
      if (.not. handleIsLive(handle, liveTag)) then
         call setStatus (status, message, omlErrState, &
               & 'model: the handle is not a loaded model (freed already?)')
         return
      endif
      call c_f_pointer (handle, object)
      if (object%tag /= liveTag .or. .not. object%model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: the handle is not a loaded model (freed already?)')
         nullify (object)
      endif

   end subroutine getModel

   !> Is this address one of the live handles, of the kind tag?
   logical function handleIsLive (handle, tag)

      implicit none

      type (c_ptr), intent(in) :: handle
      integer (c_int32_t), intent(in) :: tag

      integer (c_intptr_t) :: address
      integer :: i

      address = transfer(handle, address)
      handleIsLive = .false.
      !$omp critical (omlHandleTable)
      do i = 1, numLive
         if (liveHandles(i) == address .and. liveTags(i) == tag) then
            handleIsLive = .true.
            exit
         endif
      enddo
      !$omp end critical (omlHandleTable)

   end function handleIsLive

   !> Add a handle of the kind tag to the table of live handles (false:
   !> out of memory).
   logical function addHandle (handle, tag)

      implicit none

      type (c_ptr), intent(in) :: handle
      integer (c_int32_t), intent(in) :: tag

      integer (c_intptr_t), allocatable :: grown(:)
      integer (c_int32_t), allocatable :: grownTags(:)
      integer :: allocStat

      addHandle = .true.
      !$omp critical (omlHandleTable)
      if (.not. allocated(liveHandles)) then
         allocate (liveHandles(16), liveTags(16), stat=allocStat)
         if (allocStat /= 0) addHandle = .false.
      elseif (numLive == size(liveHandles)) then
         allocate (grown(2 * numLive), grownTags(2 * numLive), &
               & stat=allocStat)
         if (allocStat /= 0) then
            addHandle = .false.
         else
            grown(1:numLive) = liveHandles(1:numLive)
            grownTags(1:numLive) = liveTags(1:numLive)
            call move_alloc (grown, liveHandles)
            call move_alloc (grownTags, liveTags)
         endif
      endif
      if (addHandle) then
         numLive = numLive + 1
         liveHandles(numLive) = transfer(handle, liveHandles(1))
         liveTags(numLive) = tag
      endif
      !$omp end critical (omlHandleTable)

   end function addHandle

   !> Take a handle of the kind tag out of the table; false when it was
   !> not in it.
   logical function removeHandle (handle, tag)

      implicit none

      type (c_ptr), intent(in) :: handle
      integer (c_int32_t), intent(in) :: tag

      integer (c_intptr_t) :: address
      integer :: i

      address = transfer(handle, address)
      removeHandle = .false.
      !$omp critical (omlHandleTable)
      do i = 1, numLive
         if (liveHandles(i) == address .and. liveTags(i) == tag) then
            liveHandles(i) = liveHandles(numLive)
            liveTags(i) = liveTags(numLive)
            numLive = numLive - 1
            removeHandle = .true.
            exit
         endif
      enddo
      !$omp end critical (omlHandleTable)

   end function removeHandle

   !> The start of every load: *out (named name) must be writable and is
   !> set to NULL at once, so that a failed load leaves no stale handle.
   subroutine clearHandleOut (out, name, handleOut, status, message)

      implicit none

      type (c_ptr), intent(in) :: out
      character (len=*), intent(in) :: name
      type (c_ptr), pointer, intent(out) :: handleOut
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      nullify (handleOut)
      call requirePointer (out, name, status, message)
      if (status /= omlSuccess) return
      call c_f_pointer (out, handleOut)
      handleOut = c_null_ptr

   end subroutine clearHandleOut

   !> The end of a successful load: the new object (address) enters the
   !> table of live handles as tag, or the status says there was no room.
   subroutine registerHandle (address, tag, name, status, message)

      implicit none

      type (c_ptr), intent(in) :: address
      integer (c_int32_t), intent(in) :: tag
      character (len=*), intent(in) :: name
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      if (status /= omlSuccess) return
      if (.not. addHandle(address, tag)) call setStatus (status, message, &
            & omlErrMemory, name // ': out of memory for the handle table')

   end subroutine registerHandle

   !> The start of every free: given the caller's pointer to a handle,
   !> the handle itself once it has been taken out of the table as tag
   !> (only a handle found there is ever dereferenced, so a second free
   !> reads nothing).  NULL, or a pointer to NULL: nothing to do (handle
   !> not associated, code OK); a handle not in the table: code
   !> OLCAOML_ERR_STATE.
   subroutine releaseHandle (inOut, tag, handle, code)

      implicit none

      type (c_ptr), intent(in) :: inOut
      integer (c_int32_t), intent(in) :: tag
      type (c_ptr), pointer, intent(out) :: handle
      integer (c_int), intent(out) :: code

      code = int(omlSuccess, c_int)
      nullify (handle)
      if (.not. c_associated(inOut)) return
      call c_f_pointer (inOut, handle)
      if (.not. c_associated(handle)) then
         nullify (handle)
      elseif (.not. removeHandle(handle, tag)) then
         code = int(omlErrState, c_int)
         nullify (handle)
      endif

   end subroutine releaseHandle

   !> NULL check of a required pointer argument.
   subroutine requirePointer (pointer, name, status, message)

      implicit none

      type (c_ptr), intent(in) :: pointer
      character (len=*), intent(in) :: name
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      if (status /= omlSuccess) return
      if (.not. c_associated(pointer)) then
         call setStatus (status, message, omlErrNullPointer, &
               & name // ': NULL pointer')
      endif

   end subroutine requirePointer

   !> A count argument must not be negative (or below minimum).
   subroutine requireCount (count, minimum, name, status, message)

      implicit none

      integer (c_int), intent(in) :: count
      integer, intent(in) :: minimum
      character (len=*), intent(in) :: name
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      if (status /= omlSuccess) return
      if (count < minimum) then
         call setStatus (status, message, omlErrArgument, &
               & name // ': must be at least ' // intToChar(minimum) // &
               & ', got ' // intToChar(int(count)))
      endif

   end subroutine requireCount

   !> The number of descriptors per atom must be the model's.
   subroutine requireFeatures (object, numFeatures, status, message)

      implicit none

      type (ModelHandleType), pointer, intent(in) :: object
      integer (c_int), intent(in) :: numFeatures
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      if (status /= omlSuccess) return
      if (numFeatures /= omlNumFeatures(object%model)) then
         call setStatus (status, message, omlErrArgument, &
               & 'num_features: the model has ' // &
               & intToChar(omlNumFeatures(object%model)) // &
               & ' descriptors per atom, got ' // &
               & intToChar(int(numFeatures)))
      endif

   end subroutine requireFeatures

   ! ------------------------------------------------------------------
   ! Versions
   ! ------------------------------------------------------------------

   !> 10000 major + 100 minor + patch of this interface.
   integer (c_int) function olcaoml_api_version () &
         & bind(C, name='olcaoml_api_version')

      implicit none

      olcaoml_api_version = int(omlApiVersion(), c_int)

   end function olcaoml_api_version

   !> The model file format version this library reads.
   integer (c_int) function olcaoml_model_format_version () &
         & bind(C, name='olcaoml_model_format_version')

      implicit none

      olcaoml_model_format_version = int(omlModelFormatVersion, c_int)

   end function olcaoml_model_format_version

   ! ------------------------------------------------------------------
   ! The model
   ! ------------------------------------------------------------------

   !> int olcaoml_model_load(const char *path, olcaoml_model *model,
   !>                        char *message, int message_len)
   !> *model receives a new handle (NULL on failure).
   integer (c_int) function olcaoml_model_load (path, modelOut, buffer, &
         & bufferLen) bind(C, name='olcaoml_model_load')

      implicit none

      type (c_ptr), value :: path
      type (c_ptr), value :: modelOut
      type (c_ptr), value :: buffer
      integer (c_int), value :: bufferLen

      type (c_ptr), pointer :: handleOut
      type (ModelHandleType), pointer :: object
      character (len=omlMessageLen) :: message
      integer :: status, allocStat

      status = omlSuccess
      message = ''
      call clearHandleOut (modelOut, 'model', handleOut, status, message)
      call requirePointer (path, 'path', status, message)
      if (status /= omlSuccess) then
         olcaoml_model_load = finish(status, message, buffer, bufferLen)
         return
      endif

      allocate (object, stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'model: out of memory')
         olcaoml_model_load = finish(status, message, buffer, bufferLen)
         return
      endif
      call omlLoadModel (object%model, fromCString(path), status, message)
      call registerHandle (c_loc(object), liveTag, 'model', status, message)
      if (status /= omlSuccess) then
         call omlFreeModel (object%model)
         deallocate (object)
      else
         object%tag = liveTag
         handleOut = c_loc(object)
      endif
      olcaoml_model_load = finish(status, message, buffer, bufferLen)

   end function olcaoml_model_load

   !> int olcaoml_model_free(olcaoml_model *model)
   !> Releases the model and sets *model to NULL (NULL or *model == NULL:
   !> nothing to do).
   integer (c_int) function olcaoml_model_free (modelInOut) &
         & bind(C, name='olcaoml_model_free')

      implicit none

      type (c_ptr), value :: modelInOut

      type (c_ptr), pointer :: handle
      type (ModelHandleType), pointer :: object

      call releaseHandle (modelInOut, liveTag, handle, olcaoml_model_free)
      if (.not. associated(handle)) return
      call c_f_pointer (handle, object)
      object%tag = deadTag
      call omlFreeModel (object%model)
      deallocate (object)
      handle = c_null_ptr

   end function olcaoml_model_free

   !> int olcaoml_model_num_elements(olcaoml_model model, int *n, ...)
   integer (c_int) function olcaoml_model_num_elements (handle, valueOut, &
         & buffer, bufferLen) bind(C, name='olcaoml_model_num_elements')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: answer
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, answer)
         answer = int(omlNumElements(object%model), c_int)
      endif
      olcaoml_model_num_elements = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_num_elements

   !> int olcaoml_model_num_features(olcaoml_model model, int *n, ...)
   integer (c_int) function olcaoml_model_num_features (handle, valueOut, &
         & buffer, bufferLen) bind(C, name='olcaoml_model_num_features')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: answer
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, answer)
         answer = int(omlNumFeatures(object%model), c_int)
      endif
      olcaoml_model_num_features = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_num_features

   !> int olcaoml_model_max_alphas(olcaoml_model model, int *n, ...)
   integer (c_int) function olcaoml_model_max_alphas (handle, valueOut, &
         & buffer, bufferLen) bind(C, name='olcaoml_model_max_alphas')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: answer
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, answer)
         answer = int(omlMaxAlphas(object%model), c_int)
      endif
      olcaoml_model_max_alphas = finish(status, message, buffer, bufferLen)

   end function olcaoml_model_max_alphas

   !> int olcaoml_model_element_index(olcaoml_model model,
   !>     const char *symbol, int *element, char *message, int message_len)
   !> 'si', 'Si' and 'si1' all name silicon.  Unknown: OLCAOML_ERR_ELEMENT.
   integer (c_int) function olcaoml_model_element_index (handle, symbol, &
         & valueOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_element_index')

      implicit none

      type (c_ptr), value :: handle, symbol, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: answer
      character (len=omlMessageLen) :: message
      character (len=:), allocatable :: text
      integer :: status, element

      call getModel (handle, object, status, message)
      call requirePointer (symbol, 'symbol', status, message)
      call requirePointer (valueOut, 'element', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, answer)
         answer = 0
         text = fromCString(symbol)
         element = omlElementIndex(object%model, text)
         if (element == 0) then
            call setStatus (status, message, omlErrElement, 'element "' &
                  & // text(1:min(len(text), 32)) // '" is not in the model')
         else
            answer = int(element, c_int)
         endif
      endif
      olcaoml_model_element_index = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_element_index

   !> int olcaoml_model_element_symbol(olcaoml_model model, int element,
   !>     char *symbol, int symbol_len, char *message, int message_len)
   integer (c_int) function olcaoml_model_element_symbol (handle, &
         & element, symbolOut, symbolLen, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_element_symbol')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: element
      type (c_ptr), value :: symbolOut
      integer (c_int), value :: symbolLen
      type (c_ptr), value :: buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (symbolOut, 'symbol', status, message)
      call requireCount (symbolLen, 1, 'symbol_len', status, message)
      if (status == omlSuccess) then
         if (element < 1 .or. element > omlNumElements(object%model)) then
            call setStatus (status, message, omlErrElement, 'element: ' &
                  & // 'index ' // intToChar(int(element)) // ' is ' // &
                  & 'outside 1..' // intToChar(omlNumElements(object%model)))
         elseif (len_trim(omlElementSymbol(object%model, int(element))) &
               & >= symbolLen) then
            call putMessage ('', symbolOut, symbolLen)
            call setStatus (status, message, omlErrArgument, &
                  & 'symbol_len: ' // intToChar(int(symbolLen)) // &
                  & ' is too small for "' // trim(omlElementSymbol( &
                  & object%model, int(element))) // '" and its NUL')
         else
            call putMessage (omlElementSymbol(object%model, int(element)), &
                  & symbolOut, symbolLen)
         endif
      endif
      olcaoml_model_element_symbol = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_element_symbol

   !> int olcaoml_model_num_alphas(olcaoml_model model, int element,
   !>     int *n, ...)   NUM_ALPHAS of the element's network.
   integer (c_int) function olcaoml_model_num_alphas (handle, element, &
         & valueOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_num_alphas')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: element
      type (c_ptr), value :: valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: answer
      character (len=omlMessageLen) :: message
      integer :: status, n

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, answer)
         n = omlNumAlphas(object%model, int(element))
         answer = int(n, c_int)
         if (n == 0) call setStatus (status, message, omlErrElement, &
               & 'element: index ' // intToChar(int(element)) // &
               & ' has no network in the model')
      endif
      olcaoml_model_num_alphas = finish(status, message, buffer, bufferLen)

   end function olcaoml_model_num_alphas

   !> int olcaoml_model_alphas(olcaoml_model model, int element, int n,
   !>     double *alphas, ...)   alphas[n], n = NUM_ALPHAS (Bohr^-2).
   integer (c_int) function olcaoml_model_alphas (handle, element, n, &
         & valuesOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_alphas')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: element, n
      type (c_ptr), value :: valuesOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: values(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valuesOut, 'alphas', status, message)
      call requireCount (n, 1, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valuesOut, values, (/ int(n) /))
         call omlModelAlphas (object%model, int(element), values, status, &
               & message)
      endif
      olcaoml_model_alphas = finish(status, message, buffer, bufferLen)

   end function olcaoml_model_alphas

   !> int olcaoml_model_isolated_coeffs(olcaoml_model model, int element,
   !>     int n, double *coeffs, ...)   isolated-atom A_i (Hartree).
   integer (c_int) function olcaoml_model_isolated_coeffs (handle, &
         & element, n, valuesOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_isolated_coeffs')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: element, n
      type (c_ptr), value :: valuesOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: values(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valuesOut, 'coeffs', status, message)
      call requireCount (n, 1, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valuesOut, values, (/ int(n) /))
         call omlModelIsolatedCoeffs (object%model, int(element), values, &
               & status, message)
      endif
      olcaoml_model_isolated_coeffs = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_isolated_coeffs

   !> int olcaoml_model_charge_columns(olcaoml_model model, int element,
   !>     int n, double *charges, ...)   charges[3*n]: for each term the
   !> total, valence and spin columns of scfV.dat (columns 3-5).
   integer (c_int) function olcaoml_model_charge_columns (handle, &
         & element, n, valuesOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_charge_columns')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: element, n
      type (c_ptr), value :: valuesOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: values(:,:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valuesOut, 'charges', status, message)
      call requireCount (n, 1, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valuesOut, values, (/ 3, int(n) /))
         call omlModelChargeColumns (object%model, int(element), values, &
               & status, message)
      endif
      olcaoml_model_charge_columns = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_charge_columns

   ! ------------------------------------------------------------------
   ! Descriptors and prediction
   ! ------------------------------------------------------------------

   !> The structure arguments shared by olcaoml_descriptors and
   !> olcaoml_predict, checked and turned into Fortran arrays.  centres
   !> may be NULL for all atoms (then numCentres must equal numAtoms).
   subroutine structureArrays (realVectorsIn, numAtoms, positionsIn, &
         & elementOfIn, numCentres, centresIn, realVectors, positions, &
         & elementOf, centres, status, message)

      implicit none

      type (c_ptr), intent(in) :: realVectorsIn
      integer (c_int), intent(in) :: numAtoms
      type (c_ptr), intent(in) :: positionsIn, elementOfIn
      integer (c_int), intent(in) :: numCentres
      type (c_ptr), intent(in) :: centresIn
      real (c_double), pointer, intent(out) :: realVectors(:,:)
      real (c_double), pointer, intent(out) :: positions(:,:)
      integer (c_int), pointer, intent(out) :: elementOf(:)
      integer, allocatable, intent(out) :: centres(:)
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      integer (c_int), pointer :: given(:)
      integer :: i, allocStat

      nullify (realVectors, positions, elementOf)
      call requirePointer (realVectorsIn, 'real_vectors', status, message)
      call requirePointer (positionsIn, 'positions', status, message)
      call requirePointer (elementOfIn, 'element_of', status, message)
      call requireCount (numAtoms, 1, 'num_atoms', status, message)
      call requireCount (numCentres, 0, 'num_centres', status, message)
      if (status /= omlSuccess) return
      if (.not. c_associated(centresIn) .and. numCentres /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'centres: NULL means all atoms, so num_centres must ' // &
               & 'equal num_atoms')
         return
      endif

      call c_f_pointer (realVectorsIn, realVectors, (/ 3, 3 /))
      call c_f_pointer (positionsIn, positions, (/ 3, int(numAtoms) /))
      call c_f_pointer (elementOfIn, elementOf, (/ int(numAtoms) /))
      allocate (centres(numCentres), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'centres: out of memory')
         return
      endif
      if (c_associated(centresIn)) then
         call c_f_pointer (centresIn, given, (/ int(numCentres) /))
         centres(:) = int(given(:))
      else
         centres(:) = (/ (i, i = 1, int(numCentres)) /)
      endif

   end subroutine structureArrays

   !> int olcaoml_descriptors(olcaoml_model model,
   !>     const double real_vectors[9], int num_atoms,
   !>     const double *positions, const int *element_of,
   !>     int num_centres, const int *centres, int num_threads,
   !>     int num_features, double *descriptors,
   !>     char *message, int message_len)
   !> descriptors[num_centres][num_features] (Fortran (K, M)).
   integer (c_int) function olcaoml_descriptors (handle, realVectorsIn, &
         & numAtoms, positionsIn, elementOfIn, numCentres, centresIn, &
         & numThreads, numFeatures, descriptorsOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_descriptors')

      implicit none

      type (c_ptr), value :: handle, realVectorsIn
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: positionsIn, elementOfIn
      integer (c_int), value :: numCentres
      type (c_ptr), value :: centresIn
      integer (c_int), value :: numThreads, numFeatures
      type (c_ptr), value :: descriptorsOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: realVectors(:,:), positions(:,:)
      real (c_double), pointer :: descriptors(:,:)
      integer (c_int), pointer :: elementOf(:)
      integer, allocatable :: centres(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (descriptorsOut, 'descriptors', status, message)
      call structureArrays (realVectorsIn, numAtoms, positionsIn, &
            & elementOfIn, numCentres, centresIn, realVectors, positions, &
            & elementOf, centres, status, message)
      call requireFeatures (object, numFeatures, status, message)
      if (status == omlSuccess) then
         call c_f_pointer (descriptorsOut, descriptors, &
               & (/ int(numFeatures), int(numCentres) /))
         call omlComputeDescriptors (object%model, realVectors, &
               & positions, elementOf, int(numThreads), descriptors, &
               & status, message, centres)
      endif
      olcaoml_descriptors = finish(status, message, buffer, bufferLen)

   end function olcaoml_descriptors

   !> int olcaoml_predict_from_descriptors(olcaoml_model model,
   !>     int num_atoms, const int *element_of, int num_features,
   !>     const double *descriptors, int num_threads, int ld_coeffs,
   !>     double *coeffs, char *message, int message_len)
   !> coeffs[num_atoms][ld_coeffs] (Fortran (ld, M)), Hartree.
   integer (c_int) function olcaoml_predict_from_descriptors (handle, &
         & numAtoms, elementOfIn, numFeatures, descriptorsIn, numThreads, &
         & ldCoeffs, coeffsOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_predict_from_descriptors')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: elementOfIn
      integer (c_int), value :: numFeatures
      type (c_ptr), value :: descriptorsIn
      integer (c_int), value :: numThreads, ldCoeffs
      type (c_ptr), value :: coeffsOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: descriptors(:,:), coeffs(:,:)
      integer (c_int), pointer :: elementOf(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (elementOfIn, 'element_of', status, message)
      call requirePointer (descriptorsIn, 'descriptors', status, message)
      call requirePointer (coeffsOut, 'coeffs', status, message)
      call requireCount (numAtoms, 0, 'num_atoms', status, message)
      call requireCount (ldCoeffs, 1, 'ld_coeffs', status, message)
      call requireFeatures (object, numFeatures, status, message)
      if (status == omlSuccess) then
         call c_f_pointer (elementOfIn, elementOf, (/ int(numAtoms) /))
         call c_f_pointer (descriptorsIn, descriptors, &
               & (/ int(numFeatures), int(numAtoms) /))
         call c_f_pointer (coeffsOut, coeffs, &
               & (/ int(ldCoeffs), int(numAtoms) /))
         call omlPredictFromDescriptors (object%model, elementOf, &
               & descriptors, int(numThreads), coeffs, status, message)
      endif
      olcaoml_predict_from_descriptors = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_predict_from_descriptors

   !> int olcaoml_predict(olcaoml_model model,
   !>     const double real_vectors[9], int num_atoms,
   !>     const double *positions, const int *element_of,
   !>     int num_centres, const int *centres, int num_threads,
   !>     int ld_coeffs, double *coeffs, char *message, int message_len)
   !> coeffs[num_centres][ld_coeffs] (Fortran (ld, M)), Hartree.
   integer (c_int) function olcaoml_predict (handle, realVectorsIn, &
         & numAtoms, positionsIn, elementOfIn, numCentres, centresIn, &
         & numThreads, ldCoeffs, coeffsOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_predict')

      implicit none

      type (c_ptr), value :: handle, realVectorsIn
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: positionsIn, elementOfIn
      integer (c_int), value :: numCentres
      type (c_ptr), value :: centresIn
      integer (c_int), value :: numThreads, ldCoeffs
      type (c_ptr), value :: coeffsOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: realVectors(:,:), positions(:,:)
      real (c_double), pointer :: coeffs(:,:)
      integer (c_int), pointer :: elementOf(:)
      integer, allocatable :: centres(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (coeffsOut, 'coeffs', status, message)
      call requireCount (ldCoeffs, 1, 'ld_coeffs', status, message)
      call structureArrays (realVectorsIn, numAtoms, positionsIn, &
            & elementOfIn, numCentres, centresIn, realVectors, positions, &
            & elementOf, centres, status, message)
      if (status == omlSuccess) then
         call c_f_pointer (coeffsOut, coeffs, &
               & (/ int(ldCoeffs), int(numCentres) /))
         call omlPredictCoeffs (object%model, realVectors, positions, &
               & elementOf, int(numThreads), coeffs, status, message, &
               & centres)
      endif
      olcaoml_predict = finish(status, message, buffer, bufferLen)

   end function olcaoml_predict

   ! ------------------------------------------------------------------
   ! scfV.dat
   ! ------------------------------------------------------------------

   !> int olcaoml_write_scfv(const char *path, int num_types,
   !>     const int *num_terms, const double *table_up,
   !>     const double *table_dn, char *message, int message_len)
   !> table_up[rows][5], rows = sum(num_terms), the rows of type 1, then
   !> type 2, ...; table_dn may be NULL (then the spin-up rows are
   !> written for SPIN_DN as well).
   integer (c_int) function olcaoml_write_scfv (path, numTypes, &
         & numTermsIn, tableUpIn, tableDnIn, buffer, bufferLen) &
         & bind(C, name='olcaoml_write_scfv')

      implicit none

      type (c_ptr), value :: path
      integer (c_int), value :: numTypes
      type (c_ptr), value :: numTermsIn, tableUpIn, tableDnIn, buffer
      integer (c_int), value :: bufferLen

      integer (c_int), pointer :: numTerms(:)
      real (c_double), pointer :: tableUp(:,:), tableDn(:,:)
      character (len=omlMessageLen) :: message
      integer :: status, numRows, t

      status = omlSuccess
      message = ''
      call requirePointer (path, 'path', status, message)
      call requirePointer (numTermsIn, 'num_terms', status, message)
      call requirePointer (tableUpIn, 'table_up', status, message)
      call requireCount (numTypes, 1, 'num_types', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (numTermsIn, numTerms, (/ int(numTypes) /))
         numRows = 0
         do t = 1, int(numTypes)
            if (numTerms(t) < 1) then
               call setStatus (status, message, omlErrArgument, &
                     & 'num_terms: type ' // intToChar(t) // ' has ' // &
                     & intToChar(int(numTerms(t))) // ' terms')
               exit
            endif
            numRows = numRows + int(numTerms(t))
         enddo
      endif
      if (status == omlSuccess) then
         call c_f_pointer (tableUpIn, tableUp, (/ 5, numRows /))
         if (c_associated(tableDnIn)) then
            call c_f_pointer (tableDnIn, tableDn, (/ 5, numRows /))
            call omlWriteScfV (fromCString(path), int(numTerms), tableUp, &
                  & status, message, tableDn)
         else
            call omlWriteScfV (fromCString(path), int(numTerms), tableUp, &
                  & status, message)
         endif
      endif
      olcaoml_write_scfv = finish(status, message, buffer, bufferLen)

   end function olcaoml_write_scfv

   ! ------------------------------------------------------------------
   ! OLCAO's flat coefficient array (see omlCheckPotTypes and
   ! omlFillPotCoeffs in OML_Library)
   ! ------------------------------------------------------------------

   !> The potential-type arguments shared by olcaoml_check_pot_types and
   !> olcaoml_fill_pot_coeffs, checked and turned into Fortran arrays.
   subroutine potTypeArrays (numAtoms, elementOfIn, potTypeIn, numTypes, &
         & offsetsIn, potDim, alphasIn, elementOf, potType, offsets, &
         & alphas, status, message)

      implicit none

      integer (c_int), intent(in) :: numAtoms
      type (c_ptr), intent(in) :: elementOfIn, potTypeIn
      integer (c_int), intent(in) :: numTypes
      type (c_ptr), intent(in) :: offsetsIn
      integer (c_int), intent(in) :: potDim
      type (c_ptr), intent(in) :: alphasIn
      integer (c_int), pointer, intent(out) :: elementOf(:), potType(:)
      integer (c_int), pointer, intent(out) :: offsets(:)
      real (c_double), pointer, intent(out) :: alphas(:)
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      nullify (elementOf, potType, offsets, alphas)
      call requirePointer (elementOfIn, 'element_of', status, message)
      call requirePointer (potTypeIn, 'pot_type_of_atom', status, message)
      call requirePointer (offsetsIn, 'type_offsets', status, message)
      call requirePointer (alphasIn, 'pot_alphas', status, message)
      call requireCount (numAtoms, 1, 'num_atoms', status, message)
      call requireCount (numTypes, 1, 'num_types', status, message)
      call requireCount (potDim, 1, 'pot_dim', status, message)
      if (status /= omlSuccess) return
      call c_f_pointer (elementOfIn, elementOf, (/ int(numAtoms) /))
      call c_f_pointer (potTypeIn, potType, (/ int(numAtoms) /))
      call c_f_pointer (offsetsIn, offsets, (/ int(numTypes) /))
      call c_f_pointer (alphasIn, alphas, (/ int(potDim) /))

   end subroutine potTypeArrays

   !> Store the failing type for the caller (bad_type may be NULL).
   subroutine putBadType (badType, badTypeOut)

      implicit none

      integer, intent(in) :: badType
      type (c_ptr), intent(in) :: badTypeOut

      integer (c_int), pointer :: answer

      if (.not. c_associated(badTypeOut)) return
      call c_f_pointer (badTypeOut, answer)
      answer = int(badType, c_int)

   end subroutine putBadType

   !> int olcaoml_check_pot_types(olcaoml_model model, int num_atoms,
   !>     const int *element_of, const int *pot_type_of_atom,
   !>     int num_types, const int *type_offsets, int pot_dim,
   !>     const double *pot_alphas, int *bad_type,
   !>     char *message, int message_len)
   !> The checks of olcaoml_fill_pot_coeffs without the prediction, for
   !> the moment the input is read.  *bad_type (may be NULL): the first
   !> potential type that fails, 0 if none does or the fault is not a
   !> type's.
   integer (c_int) function olcaoml_check_pot_types (handle, numAtoms, &
         & elementOfIn, potTypeIn, numTypes, offsetsIn, potDim, alphasIn, &
         & badTypeOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_check_pot_types')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: elementOfIn, potTypeIn
      integer (c_int), value :: numTypes
      type (c_ptr), value :: offsetsIn
      integer (c_int), value :: potDim
      type (c_ptr), value :: alphasIn, badTypeOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: elementOf(:), potType(:), offsets(:)
      real (c_double), pointer :: alphas(:)
      character (len=omlMessageLen) :: message
      integer :: status, badType

      badType = 0
      call getModel (handle, object, status, message)
      call potTypeArrays (numAtoms, elementOfIn, potTypeIn, numTypes, &
            & offsetsIn, potDim, alphasIn, elementOf, potType, offsets, &
            & alphas, status, message)
      if (status == omlSuccess) then
         call omlCheckPotTypes (object%model, int(elementOf), &
               & int(potType), int(offsets), alphas, status, message, &
               & badType)
      endif
      call putBadType (badType, badTypeOut)
      olcaoml_check_pot_types = finish(status, message, buffer, bufferLen)

   end function olcaoml_check_pot_types

   !> int olcaoml_fill_pot_coeffs(olcaoml_model model,
   !>     const double real_vectors[9], int num_atoms,
   !>     const double *positions, const int *element_of,
   !>     const int *pot_type_of_atom, int num_types,
   !>     const int *type_offsets, int pot_dim, const double *pot_alphas,
   !>     int num_spins, int num_threads, double *pot_coeffs,
   !>     int *bad_type, char *message, int message_len)
   !> pot_coeffs[num_spins][pot_dim] (Fortran (potDim, numSpins)),
   !> Hartree; unchanged on any failure.
   integer (c_int) function olcaoml_fill_pot_coeffs (handle, &
         & realVectorsIn, numAtoms, positionsIn, elementOfIn, potTypeIn, &
         & numTypes, offsetsIn, potDim, alphasIn, numSpins, numThreads, &
         & coeffsInOut, badTypeOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_fill_pot_coeffs')

      implicit none

      type (c_ptr), value :: handle, realVectorsIn
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: positionsIn, elementOfIn, potTypeIn
      integer (c_int), value :: numTypes
      type (c_ptr), value :: offsetsIn
      integer (c_int), value :: potDim
      type (c_ptr), value :: alphasIn
      integer (c_int), value :: numSpins, numThreads
      type (c_ptr), value :: coeffsInOut, badTypeOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: elementOf(:), potType(:), offsets(:)
      real (c_double), pointer :: alphas(:), realVectors(:,:)
      real (c_double), pointer :: positions(:,:), coeffs(:,:)
      character (len=omlMessageLen) :: message
      integer :: status, badType

      badType = 0
      call getModel (handle, object, status, message)
      call requirePointer (realVectorsIn, 'real_vectors', status, message)
      call requirePointer (positionsIn, 'positions', status, message)
      call requirePointer (coeffsInOut, 'pot_coeffs', status, message)
      call requireCount (numSpins, 1, 'num_spins', status, message)
      call potTypeArrays (numAtoms, elementOfIn, potTypeIn, numTypes, &
            & offsetsIn, potDim, alphasIn, elementOf, potType, offsets, &
            & alphas, status, message)
      if (status == omlSuccess) then
         call c_f_pointer (realVectorsIn, realVectors, (/ 3, 3 /))
         call c_f_pointer (positionsIn, positions, (/ 3, int(numAtoms) /))
         call c_f_pointer (coeffsInOut, coeffs, &
               & (/ int(potDim), int(numSpins) /))
         call omlFillPotCoeffs (object%model, realVectors, positions, &
               & int(elementOf), int(potType), int(offsets), alphas, &
               & int(numThreads), coeffs, status, message, badType)
      endif
      call putBadType (badType, badTypeOut)
      olcaoml_fill_pot_coeffs = finish(status, message, buffer, bufferLen)

   end function olcaoml_fill_pot_coeffs

   ! ------------------------------------------------------------------
   ! Ensembles: mean and per-atom sigma
   ! ------------------------------------------------------------------

   !> int olcaoml_model_num_members(olcaoml_model model, int *n,
   !>     char *message, int message_len)
   integer (c_int) function olcaoml_model_num_members (handle, valueOut, &
         & buffer, bufferLen) bind(C, name='olcaoml_model_num_members')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: value
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, value)
         value = int(omlNumMembers(object%model), c_int)
      endif
      olcaoml_model_num_members = finish(status, message, buffer, bufferLen)

   end function olcaoml_model_num_members

   !> int olcaoml_model_handover_threshold(olcaoml_model model,
   !>     double *threshold_hartree, char *message, int message_len)
   !> The model's handover threshold (Hartree), 0.0 when it records none
   !> (see omlHandoverThreshold for the rule it serves).
   integer (c_int) function olcaoml_model_handover_threshold (handle, &
         & valueOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_model_handover_threshold')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: value
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'threshold_hartree', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, value)
         value = real(omlHandoverThreshold(object%model), c_double)
      endif
      olcaoml_model_handover_threshold = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_model_handover_threshold

   !> int olcaoml_predict_ensemble_from_descriptors(olcaoml_model model,
   !>     int num_atoms, const int *element_of, int num_features,
   !>     const double *descriptors, int num_threads, int ld_coeffs,
   !>     double *coeffs, double *sigma, char *message, int message_len)
   !> coeffs[num_atoms][ld_coeffs]: the ensemble mean; sigma[num_atoms]:
   !> predicted RMS V(r) error (Hartree).
   integer (c_int) function olcaoml_predict_ensemble_from_descriptors ( &
         & handle, numAtoms, elementOfIn, numFeatures, descriptorsIn, &
         & numThreads, ldCoeffs, coeffsOut, sigmaOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_predict_ensemble_from_descriptors')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: elementOfIn
      integer (c_int), value :: numFeatures
      type (c_ptr), value :: descriptorsIn
      integer (c_int), value :: numThreads, ldCoeffs
      type (c_ptr), value :: coeffsOut, sigmaOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: descriptors(:,:), coeffs(:,:), sigma(:)
      integer (c_int), pointer :: elementOf(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (elementOfIn, 'element_of', status, message)
      call requirePointer (descriptorsIn, 'descriptors', status, message)
      call requirePointer (coeffsOut, 'coeffs', status, message)
      call requirePointer (sigmaOut, 'sigma', status, message)
      call requireCount (numAtoms, 0, 'num_atoms', status, message)
      call requireCount (ldCoeffs, 1, 'ld_coeffs', status, message)
      call requireFeatures (object, numFeatures, status, message)
      if (status == omlSuccess) then
         call c_f_pointer (elementOfIn, elementOf, (/ int(numAtoms) /))
         call c_f_pointer (descriptorsIn, descriptors, &
               & (/ int(numFeatures), int(numAtoms) /))
         call c_f_pointer (coeffsOut, coeffs, &
               & (/ int(ldCoeffs), int(numAtoms) /))
         call c_f_pointer (sigmaOut, sigma, (/ int(numAtoms) /))
         call omlPredictEnsembleFromDescriptors (object%model, elementOf, &
               & descriptors, int(numThreads), coeffs, sigma, status, &
               & message)
      endif
      olcaoml_predict_ensemble_from_descriptors = finish(status, message, &
            & buffer, bufferLen)

   end function olcaoml_predict_ensemble_from_descriptors

   !> int olcaoml_predict_ensemble(olcaoml_model model,
   !>     const double real_vectors[9], int num_atoms,
   !>     const double *positions, const int *element_of,
   !>     int num_centres, const int *centres, int num_threads,
   !>     int ld_coeffs, double *coeffs, double *sigma,
   !>     char *message, int message_len)
   !> Descriptors + ensemble: coeffs[num_centres][ld_coeffs] (mean) and
   !> sigma[num_centres], Hartree.
   integer (c_int) function olcaoml_predict_ensemble (handle, &
         & realVectorsIn, numAtoms, positionsIn, elementOfIn, numCentres, &
         & centresIn, numThreads, ldCoeffs, coeffsOut, sigmaOut, buffer, &
         & bufferLen) bind(C, name='olcaoml_predict_ensemble')

      implicit none

      type (c_ptr), value :: handle, realVectorsIn
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: positionsIn, elementOfIn
      integer (c_int), value :: numCentres
      type (c_ptr), value :: centresIn
      integer (c_int), value :: numThreads, ldCoeffs
      type (c_ptr), value :: coeffsOut, sigmaOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: realVectors(:,:), positions(:,:)
      real (c_double), pointer :: coeffs(:,:), sigma(:)
      integer (c_int), pointer :: elementOf(:)
      integer, allocatable :: centres(:)
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (coeffsOut, 'coeffs', status, message)
      call requirePointer (sigmaOut, 'sigma', status, message)
      call requireCount (ldCoeffs, 1, 'ld_coeffs', status, message)
      call structureArrays (realVectorsIn, numAtoms, positionsIn, &
            & elementOfIn, numCentres, centresIn, realVectors, positions, &
            & elementOf, centres, status, message)
      if (status == omlSuccess) then
         call c_f_pointer (coeffsOut, coeffs, &
               & (/ int(ldCoeffs), int(numCentres) /))
         call c_f_pointer (sigmaOut, sigma, (/ int(numCentres) /))
         call omlPredictEnsemble (object%model, realVectors, positions, &
               & elementOf, int(numThreads), coeffs, sigma, status, &
               & message, centres)
      endif
      olcaoml_predict_ensemble = finish(status, message, buffer, bufferLen)

   end function olcaoml_predict_ensemble

   ! ------------------------------------------------------------------
   ! The expected OLCAO iterations (API 2.4)
   ! ------------------------------------------------------------------

   !> int olcaoml_expected_iterations(olcaoml_model model, int num_atoms,
   !>     double max_sigma_hartree, int *expected, int *default_expected,
   !>     int *outside, char *message, int message_len)
   !> expected[3], default_expected[3]: (expected, low, high) iterations
   !> from the model's start and from OLCAO's default start, -1 where the
   !> model has no such fit; *outside 1 when the estimate is extrapolated
   !> (see omlExpectedIterations).  A model without the numbers: OK, -1
   !> everywhere and *outside 0, whatever num_atoms and the sigma are.
   !> The numbers of the general cells, group 0 (those of the other
   !> groups: olcaoml_expected_iterations_in_group).
   integer (c_int) function olcaoml_expected_iterations (handle, &
         & numAtoms, maxSigma, expectedOut, defaultOut, outsideOut, buffer, &
         & bufferLen) bind(C, name='olcaoml_expected_iterations')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: numAtoms
      real (c_double), value :: maxSigma
      type (c_ptr), value :: expectedOut, defaultOut, outsideOut, buffer
      integer (c_int), value :: bufferLen

      olcaoml_expected_iterations = expectedInGroup(handle, 0_c_int, &
            & numAtoms, maxSigma, expectedOut, defaultOut, outsideOut, &
            & buffer, bufferLen)

   end function olcaoml_expected_iterations

   ! ------------------------------------------------------------------
   ! Iteration groups (API 2.5, model format 9)
   ! ------------------------------------------------------------------

   !> int olcaoml_expected_iterations_in_group(olcaoml_model model,
   !>     int group, int num_atoms, double max_sigma_hartree,
   !>     int *expected, int *default_expected, int *outside,
   !>     char *message, int message_len)
   !> olcaoml_expected_iterations for the structures of one group (0..n;
   !> 0 is olcaoml_expected_iterations itself).  A group outside 0..n:
   !> OLCAOML_ERR_ARGUMENT, -1 everywhere and *outside 0.
   integer (c_int) function olcaoml_expected_iterations_in_group ( &
         & handle, group, numAtoms, maxSigma, expectedOut, defaultOut, &
         & outsideOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_expected_iterations_in_group')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: group, numAtoms
      real (c_double), value :: maxSigma
      type (c_ptr), value :: expectedOut, defaultOut, outsideOut, buffer
      integer (c_int), value :: bufferLen

      olcaoml_expected_iterations_in_group = expectedInGroup(handle, &
            & group, numAtoms, maxSigma, expectedOut, defaultOut, &
            & outsideOut, buffer, bufferLen)

   end function olcaoml_expected_iterations_in_group

   !> The work of both: the checks in the order the header promises
   !> (handle, pointers, group, then, where the model has numbers, the
   !> number of atoms and the sigma), and every output that can be
   !> written is, failure or not: -1 and 0 say "no estimate" to a caller
   !> that does not look at the status.
   integer (c_int) function expectedInGroup (handle, group, numAtoms, &
         & maxSigma, expectedOut, defaultOut, outsideOut, buffer, bufferLen)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (c_ptr), intent(in) :: handle
      integer (c_int), intent(in) :: group, numAtoms
      real (c_double), intent(in) :: maxSigma
      type (c_ptr), intent(in) :: expectedOut, defaultOut, outsideOut
      type (c_ptr), intent(in) :: buffer
      integer (c_int), intent(in) :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: expected(:), defaultExpected(:)
      integer (c_int), pointer :: outside
      character (len=omlMessageLen) :: message
      integer :: status, counts(3), defaultCounts(3), numGroups
      logical :: isOutside

      counts(:) = -1
      defaultCounts(:) = -1
      isOutside = .false.
      call getModel (handle, object, status, message)
      call requirePointer (expectedOut, 'expected', status, message)
      call requirePointer (defaultOut, 'default_expected', status, message)
      call requirePointer (outsideOut, 'outside', status, message)
      if (status == omlSuccess) then
         numGroups = omlNumIterationGroups(object%model)
         if (group < 0 .or. group > numGroups) then
            call setStatus (status, message, omlErrArgument, 'group: ' // &
                  & intToChar(int(group)) // ' is outside 0..' // &
                  & intToChar(numGroups) // ' (the model''s iteration ' // &
                  & 'groups)')
         elseif (omlHasExpectedIterations(object%model)) then
            call requireCount (numAtoms, 1, 'num_atoms', status, message)
            if (status == omlSuccess .and. .not. &
                  & (ieee_is_finite(maxSigma) .and. maxSigma > 0.0_c_double)) &
                  & call setStatus (status, message, omlErrArgument, &
                  & 'max_sigma_hartree: must be a finite number > 0 ' // &
                  & '(Hartree)')
         endif
      endif
      if (status == omlSuccess) then
         call omlExpectedIterationsInGroup (object%model, int(group), &
               & int(numAtoms), real(maxSigma, double), counts, &
               & defaultCounts, isOutside, status, message)
      endif
      if (c_associated(expectedOut)) then
         call c_f_pointer (expectedOut, expected, (/ 3 /))
         expected(:) = int(counts, c_int)
      endif
      if (c_associated(defaultOut)) then
         call c_f_pointer (defaultOut, defaultExpected, (/ 3 /))
         defaultExpected(:) = int(defaultCounts, c_int)
      endif
      if (c_associated(outsideOut)) then
         call c_f_pointer (outsideOut, outside)
         outside = merge(1_c_int, 0_c_int, isOutside)
      endif
      expectedInGroup = finish(status, message, buffer, bufferLen)

   end function expectedInGroup

   !> int olcaoml_num_iteration_groups(olcaoml_model model, int *n,
   !>     char *message, int message_len)
   !> n: the model's iteration groups (0 for formats 1-8); the valid
   !> groups are 0 (the general cells) to n.
   integer (c_int) function olcaoml_num_iteration_groups (handle, &
         & valueOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_num_iteration_groups')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      integer (c_int), pointer :: value
      character (len=omlMessageLen) :: message
      integer :: status

      call getModel (handle, object, status, message)
      call requirePointer (valueOut, 'n', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, value)
         value = int(omlNumIterationGroups(object%model), c_int)
      endif
      olcaoml_num_iteration_groups = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_num_iteration_groups

   !> int olcaoml_iteration_group_name(olcaoml_model model, int group,
   !>     char *name, int name_len, char *message, int message_len)
   !> name[name_len] receives the NUL-terminated name of group 0..n
   !> ("general" for 0).  Any failure leaves an empty string there (when
   !> the buffer can hold one): a group outside 0..n, or a buffer too
   !> small for the name, is OLCAOML_ERR_ARGUMENT.
   integer (c_int) function olcaoml_iteration_group_name (handle, group, &
         & nameOut, nameLen, buffer, bufferLen) &
         & bind(C, name='olcaoml_iteration_group_name')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: group
      type (c_ptr), value :: nameOut
      integer (c_int), value :: nameLen
      type (c_ptr), value :: buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      character (len=omlMessageLen) :: message
      character (len=omlGroupNameLen) :: name
      integer :: status, numGroups

      call putMessage ('', nameOut, nameLen)
      call getModel (handle, object, status, message)
      call requirePointer (nameOut, 'name', status, message)
      call requireCount (nameLen, 1, 'name_len', status, message)
      if (status == omlSuccess) then
         numGroups = omlNumIterationGroups(object%model)
         name = omlIterationGroupName(object%model, int(group))
         if (group < 0 .or. group > numGroups) then
            call setStatus (status, message, omlErrArgument, 'group: ' // &
                  & intToChar(int(group)) // ' is outside 0..' // &
                  & intToChar(numGroups) // ' (the model''s iteration ' // &
                  & 'groups)')
         elseif (len_trim(name) >= nameLen) then
            call setStatus (status, message, omlErrArgument, &
                  & 'name_len: ' // intToChar(int(nameLen)) // &
                  & ' is too small for "' // trim(name) // '" and its NUL')
         else
            call putMessage (name, nameOut, nameLen)
         endif
      endif
      olcaoml_iteration_group_name = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_iteration_group_name

   !> int olcaoml_iteration_group(olcaoml_model model,
   !>     const double real_vectors[9], int num_atoms,
   !>     const double *positions, const int *element_of, int num_threads,
   !>     int *group, char *message, int message_len)
   !> *group: the structure's iteration group 0..n (0 for a model without
   !> groups), -1 on failure (see omlIterationGroup).
   integer (c_int) function olcaoml_iteration_group (handle, &
         & realVectorsIn, numAtoms, positionsIn, elementOfIn, numThreads, &
         & groupOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_iteration_group')

      implicit none

      type (c_ptr), value :: handle, realVectorsIn
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: positionsIn, elementOfIn
      integer (c_int), value :: numThreads
      type (c_ptr), value :: groupOut, buffer
      integer (c_int), value :: bufferLen

      type (ModelHandleType), pointer :: object
      real (c_double), pointer :: realVectors(:,:), positions(:,:)
      integer (c_int), pointer :: elementOf(:)
      integer (c_int), pointer :: answer
      integer, allocatable :: centres(:)
      character (len=omlMessageLen) :: message
      integer :: status, group

      group = -1
      call getModel (handle, object, status, message)
      call requirePointer (groupOut, 'group', status, message)
      call structureArrays (realVectorsIn, numAtoms, positionsIn, &
            & elementOfIn, numAtoms, c_null_ptr, realVectors, positions, &
            & elementOf, centres, status, message)
      if (status == omlSuccess) then
         call omlIterationGroup (object%model, realVectors, positions, &
               & elementOf, int(numThreads), group, status, message)
      endif
      if (c_associated(groupOut)) then
         call c_f_pointer (groupOut, answer)
         answer = int(group, c_int)
      endif
      olcaoml_iteration_group = finish(status, message, buffer, bufferLen)

   end function olcaoml_iteration_group

   ! ------------------------------------------------------------------
   ! Applicability distance (API 2.3)
   ! ------------------------------------------------------------------

   !> The domain behind a handle, or a status saying why there is none.
   subroutine getDomain (handle, object, status, message)

      implicit none

      type (c_ptr), intent(in) :: handle
      type (DomainHandleType), pointer, intent(out) :: object
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      nullify (object)
      if (status /= omlSuccess) return
      if (.not. c_associated(handle)) then
         call setStatus (status, message, omlErrNullPointer, &
               & 'domain: the handle is NULL')
         return
      endif
      if (.not. handleIsLive(handle, domainTag)) then
         call setStatus (status, message, omlErrState, &
               & 'domain: the handle is not a loaded domain (freed ' // &
               & 'already?)')
         return
      endif
      call c_f_pointer (handle, object)

   end subroutine getDomain

   !> int olcaoml_domain_load(olcaoml_model model, const char *path,
   !>                         olcaoml_domain *domain, char *message,
   !>                         int message_len)
   !> Reads the domain file written beside the model ("olcaoml export
   !> MODEL -o model.oml --domain model.omld"); *domain receives a new
   !> handle (NULL on failure).  The model may be freed afterwards.
   integer (c_int) function olcaoml_domain_load (handle, path, domainOut, &
         & buffer, bufferLen) bind(C, name='olcaoml_domain_load')

      implicit none

      type (c_ptr), value :: handle, path, domainOut, buffer
      integer (c_int), value :: bufferLen

      type (c_ptr), pointer :: handleOut
      type (ModelHandleType), pointer :: model
      type (DomainHandleType), pointer :: object
      character (len=omlMessageLen) :: message
      integer :: status, allocStat

      status = omlSuccess
      message = ''
      call clearHandleOut (domainOut, 'domain', handleOut, status, message)
      if (status == omlSuccess) call getModel (handle, model, status, message)
      call requirePointer (path, 'path', status, message)
      if (status /= omlSuccess) then
         olcaoml_domain_load = finish(status, message, buffer, bufferLen)
         return
      endif
      allocate (object, stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'domain: out of memory')
         olcaoml_domain_load = finish(status, message, buffer, bufferLen)
         return
      endif
      call omlLoadDomain (object%domain, model%model, fromCString(path), &
            & status, message)
      call registerHandle (c_loc(object), domainTag, 'domain', status, &
            & message)
      if (status /= omlSuccess) then
         call omlFreeDomain (object%domain)
         deallocate (object)
      else
         object%tag = domainTag
         handleOut = c_loc(object)
      endif
      olcaoml_domain_load = finish(status, message, buffer, bufferLen)

   end function olcaoml_domain_load

   !> int olcaoml_domain_free(olcaoml_domain *domain)
   !> Releases the domain and sets *domain to NULL (NULL or *domain ==
   !> NULL: nothing to do; a handle that is not a live domain:
   !> OLCAOML_ERR_STATE).
   integer (c_int) function olcaoml_domain_free (domainInOut) &
         & bind(C, name='olcaoml_domain_free')

      implicit none

      type (c_ptr), value :: domainInOut

      type (c_ptr), pointer :: handle
      type (DomainHandleType), pointer :: object

      call releaseHandle (domainInOut, domainTag, handle, &
            & olcaoml_domain_free)
      if (.not. associated(handle)) return
      call c_f_pointer (handle, object)
      object%tag = deadTag
      call omlFreeDomain (object%domain)
      deallocate (object)
      handle = c_null_ptr

   end function olcaoml_domain_free

   !> int olcaoml_domain_ratio(olcaoml_domain domain, int num_atoms,
   !>     const int *element_of, int num_features,
   !>     const double *descriptors, int num_threads, double *ratio,
   !>     char *message, int message_len)
   !> ratio[num_atoms]: each atom's applicability distance over its
   !> element's threshold (NaN for an element the domain lacks), from
   !> descriptors[num_atoms][num_features] (olcaoml_descriptors).
   integer (c_int) function olcaoml_domain_ratio (handle, numAtoms, &
         & elementOfIn, numFeatures, descriptorsIn, numThreads, ratioOut, &
         & buffer, bufferLen) bind(C, name='olcaoml_domain_ratio')

      implicit none

      type (c_ptr), value :: handle
      integer (c_int), value :: numAtoms
      type (c_ptr), value :: elementOfIn
      integer (c_int), value :: numFeatures
      type (c_ptr), value :: descriptorsIn
      integer (c_int), value :: numThreads
      type (c_ptr), value :: ratioOut, buffer
      integer (c_int), value :: bufferLen

      type (DomainHandleType), pointer :: object
      real (c_double), pointer :: descriptors(:,:), ratio(:)
      integer (c_int), pointer :: elementOf(:)
      character (len=omlMessageLen) :: message
      integer :: status

      status = omlSuccess
      message = ''
      call getDomain (handle, object, status, message)
      call requirePointer (elementOfIn, 'element_of', status, message)
      call requirePointer (descriptorsIn, 'descriptors', status, message)
      call requirePointer (ratioOut, 'ratio', status, message)
      call requireCount (numAtoms, 0, 'num_atoms', status, message)
      call requireCount (numFeatures, 1, 'num_features', status, message)
      if (status == omlSuccess) then
         if (numFeatures /= object%domain%numFeatures) then
            call setStatus (status, message, omlErrArgument, &
                  & 'num_features: the domain has ' // &
                  & intToChar(object%domain%numFeatures) // &
                  & ' descriptors per atom, got ' // &
                  & intToChar(int(numFeatures)))
         endif
      endif
      if (status == omlSuccess) then
         call c_f_pointer (elementOfIn, elementOf, (/ int(numAtoms) /))
         call c_f_pointer (descriptorsIn, descriptors, &
               & (/ int(numFeatures), int(numAtoms) /))
         call c_f_pointer (ratioOut, ratio, (/ int(numAtoms) /))
         call omlDomainRatio (object%domain, elementOf, descriptors, &
               & int(numThreads), ratio, status, message)
      endif
      olcaoml_domain_ratio = finish(status, message, buffer, bufferLen)

   end function olcaoml_domain_ratio

   !> int olcaoml_median_domain(int num_atoms, const double *ratio,
   !>     double *median, char *message, int message_len)
   !> The median of the finite ratios (NaN when none; numpy's rule for an
   !> even count): what the handover compares with its threshold.
   integer (c_int) function olcaoml_median_domain (numAtoms, ratioIn, &
         & medianOut, buffer, bufferLen) bind(C, name='olcaoml_median_domain')

      implicit none

      integer (c_int), value :: numAtoms
      type (c_ptr), value :: ratioIn, medianOut, buffer
      integer (c_int), value :: bufferLen

      real (c_double), pointer :: ratio(:), median
      character (len=omlMessageLen) :: message
      integer :: status

      status = omlSuccess
      message = ''
      call requirePointer (ratioIn, 'ratio', status, message)
      call requirePointer (medianOut, 'median', status, message)
      call requireCount (numAtoms, 0, 'num_atoms', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (ratioIn, ratio, (/ int(numAtoms) /))
         call c_f_pointer (medianOut, median)
         median = real(omlMedianDomain(ratio), c_double)
      endif
      olcaoml_median_domain = finish(status, message, buffer, bufferLen)

   end function olcaoml_median_domain

   !> int olcaoml_domain_handover_threshold(olcaoml_domain domain,
   !>     double *threshold, char *message, int message_len)
   !> The median ratio above which a structure with C goes to the
   !> amorphous SiC model (0.0: the domain records no such rule).
   integer (c_int) function olcaoml_domain_handover_threshold (handle, &
         & valueOut, buffer, bufferLen) &
         & bind(C, name='olcaoml_domain_handover_threshold')

      implicit none

      type (c_ptr), value :: handle, valueOut, buffer
      integer (c_int), value :: bufferLen

      type (DomainHandleType), pointer :: object
      real (c_double), pointer :: value
      character (len=omlMessageLen) :: message
      integer :: status

      status = omlSuccess
      message = ''
      call getDomain (handle, object, status, message)
      call requirePointer (valueOut, 'threshold', status, message)
      if (status == omlSuccess) then
         call c_f_pointer (valueOut, value)
         value = real(omlDomainHandoverThreshold(object%domain), c_double)
      endif
      olcaoml_domain_handover_threshold = finish(status, message, buffer, &
            & bufferLen)

   end function olcaoml_domain_handover_threshold

end module OML_CApi
